using System.Runtime.CompilerServices;

namespace Inlet.Storage;

/// <summary>
/// The spool kept in one bucket of an S3-compatible service, so that every node reads every message: each of the
/// spool's containers (<c>spool</c>, <c>outbox</c>) is a key prefix in the bucket. The nodes share the bucket; the
/// bucket is the spool's, not one the S3 action or the API should use.
/// </summary>
internal sealed class BucketSpool(S3BlobStore s3, string bucket) : IBlobStore
{
    public string Bucket { get; } = bucket;

    private static string Key(string container, string key) => container + "/" + key;

    public Task<bool> ContainerExistsAsync(string container, CancellationToken cancellationToken) => s3.ContainerExistsAsync(Bucket, cancellationToken);

    /// <summary>The bucket is made once; a container is a prefix and needs nothing.</summary>
    public Task CreateContainerAsync(string container, CancellationToken cancellationToken) => s3.CreateContainerAsync(Bucket, cancellationToken);

    public Task<bool> DeleteContainerAsync(string container, CancellationToken cancellationToken) => throw new NotSupportedException("The spool's containers are not deleted.");

    public IAsyncEnumerable<ContainerInfo> ListContainersAsync(CancellationToken cancellationToken) => throw new NotSupportedException("The spool's containers are not listed.");

    public Task<string?> GetPolicyAsync(string container, CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    public Task PutPolicyAsync(string container, string policy, CancellationToken cancellationToken) => throw new NotSupportedException("The spool has no policy.");

    public Task DeletePolicyAsync(string container, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<IBlobWriter> CreateAsync(string container, string key, CancellationToken cancellationToken) => s3.CreateAsync(Bucket, Key(container, key), cancellationToken);

    public Task<Stream?> OpenReadAsync(string container, string key, CancellationToken cancellationToken) => s3.OpenReadAsync(Bucket, Key(container, key), cancellationToken);

    public async Task<BlobInfo?> GetInfoAsync(string container, string key, CancellationToken cancellationToken) =>
        await s3.GetInfoAsync(Bucket, Key(container, key), cancellationToken) is { } info ? info with { Key = key } : null;

    public Task DeleteAsync(string container, string key, CancellationToken cancellationToken) => s3.DeleteAsync(Bucket, Key(container, key), cancellationToken);

    public async IAsyncEnumerable<BlobInfo> ListAsync(string container, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var prefix = container + "/";
        await foreach (var blob in s3.ListAsync(Bucket, prefix, cancellationToken))
        {
            yield return blob with { Key = blob.Key[prefix.Length..] };
        }
    }
}
