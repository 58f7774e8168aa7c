using System.Net;
using System.Runtime.CompilerServices;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Inlet.Storage;

/// <summary>Where the S3 action's buckets live when they are not files in the data folder.</summary>
internal sealed record S3StoreOptions
{
    /// <summary>The S3-compatible endpoint, e.g. <c>http://127.0.0.1:9000</c>; none means AWS's own for the region.</summary>
    public string? ServiceUrl { get; init; }

    public string Region { get; init; } = "us-east-1";

    public required string AccessKeyId { get; init; }

    public required string SecretAccessKey { get; init; }

    /// <summary>Path-style addressing, as most self-hosted S3 services want.</summary>
    public bool ForcePathStyle { get; init; } = true;
}

/// <summary>
/// The blob store on a real S3 service through AWSSDK.S3: containers are buckets, keys are object keys. Writes are
/// buffered in a temporary file and uploaded on commit, so an object appears whole or not at all.
/// </summary>
internal sealed class S3BlobStore : IBlobStore, IDisposable
{
    private readonly AmazonS3Client _client;

    public S3BlobStore(S3StoreOptions options)
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,
            AuthenticationRegion = options.Region,
            RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(options.Region),
        };
        if (options.ServiceUrl is not null)
        {
            config.ServiceURL = options.ServiceUrl;
        }

        _client = new AmazonS3Client(new BasicAWSCredentials(options.AccessKeyId, options.SecretAccessKey), config);
    }

    public async Task<bool> ContainerExistsAsync(string container, CancellationToken cancellationToken)
    {
        try
        {
            await _client.HeadBucketAsync(new HeadBucketRequest { BucketName = container }, cancellationToken);
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    public async Task CreateContainerAsync(string container, CancellationToken cancellationToken)
    {
        try
        {
            await _client.PutBucketAsync(container, cancellationToken);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode is "BucketAlreadyOwnedByYou")
        {
            // Already there.
        }
    }

    public async Task<bool> DeleteContainerAsync(string container, CancellationToken cancellationToken)
    {
        await _client.DeleteBucketAsync(container, cancellationToken);
        return true;
    }

    public async IAsyncEnumerable<ContainerInfo> ListContainersAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var response = await _client.ListBucketsAsync(cancellationToken);
        foreach (var bucket in response.Buckets ?? [])
        {
            yield return new ContainerInfo(bucket.BucketName, bucket.CreationDate?.ToUniversalTime() ?? DateTime.UnixEpoch);
        }
    }

    public async Task<string?> GetPolicyAsync(string container, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _client.GetBucketPolicyAsync(container, cancellationToken);
            // AWSSDK.S3 does not throw for NoSuchBucketPolicy: it hands over the error document as the policy.
            return response.HttpStatusCode != HttpStatusCode.OK || string.IsNullOrEmpty(response.Policy) ? null : response.Policy;
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchBucketPolicy")
        {
            return null;
        }
    }

    public Task PutPolicyAsync(string container, string policy, CancellationToken cancellationToken) =>
        _client.PutBucketPolicyAsync(new PutBucketPolicyRequest { BucketName = container, Policy = policy }, cancellationToken);

    public Task DeletePolicyAsync(string container, CancellationToken cancellationToken) =>
        _client.DeleteBucketPolicyAsync(container, cancellationToken);

    /// <summary>Objects up to this size are buffered and read in memory; larger ones go through a temporary file.</summary>
    private const int InMemoryLimit = 128 * 1024;

    public Task<IBlobWriter> CreateAsync(string container, string key, CancellationToken cancellationToken) =>
        Task.FromResult<IBlobWriter>(new Writer(_client, container, key));

    private static FileStream TemporaryFile() =>
        new(Path.Combine(Path.GetTempPath(), "inlet-s3-" + Guid.NewGuid().ToString("N")), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 64 * 1024, FileOptions.Asynchronous | FileOptions.DeleteOnClose);

    public async Task<Stream?> OpenReadAsync(string container, string key, CancellationToken cancellationToken)
    {
        try
        {
            // Into a temporary file rather than memory: readers seek (the header section, then the whole), and a 40 MB
            // message must not sit whole in memory for each reader. The file goes when the stream is closed.
            using var response = await _client.GetObjectAsync(container, key, cancellationToken);
            Stream copy = response.ContentLength <= InMemoryLimit ? new MemoryStream((int)response.ContentLength) : TemporaryFile();
            await response.ResponseStream.CopyToAsync(copy, cancellationToken);
            copy.Position = 0;
            return copy;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<BlobInfo?> GetInfoAsync(string container, string key, CancellationToken cancellationToken)
    {
        try
        {
            var metadata = await _client.GetObjectMetadataAsync(container, key, cancellationToken);
            return new BlobInfo(key, metadata.ContentLength, metadata.LastModified?.ToUniversalTime() ?? DateTime.UtcNow);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public Task DeleteAsync(string container, string key, CancellationToken cancellationToken) =>
        _client.DeleteObjectAsync(container, key, cancellationToken);

    public IAsyncEnumerable<BlobInfo> ListAsync(string container, CancellationToken cancellationToken) => ListAsync(container, null, cancellationToken);

    /// <summary>The objects whose keys begin with <paramref name="prefix"/>, in key order.</summary>
    public async IAsyncEnumerable<BlobInfo> ListAsync(string container, string? prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = new ListObjectsV2Request { BucketName = container, Prefix = prefix };
        ListObjectsV2Response response;
        do
        {
            response = await _client.ListObjectsV2Async(request, cancellationToken);
            foreach (var item in response.S3Objects ?? [])
            {
                yield return new BlobInfo(item.Key, item.Size ?? 0, item.LastModified?.ToUniversalTime() ?? DateTime.UtcNow);
            }

            request.ContinuationToken = response.NextContinuationToken;
        }
        while (response.IsTruncated == true);
    }

    public void Dispose() => _client.Dispose();

    /// <summary>Buffers the object (in memory while it is small) and uploads it whole on commit.</summary>
    private sealed class Writer(AmazonS3Client client, string bucket, string key) : IBlobWriter
    {
        private readonly SpillStream _buffer = new(InMemoryLimit, _ => Task.FromResult<Stream>(TemporaryFile()));

        public Stream Stream => _buffer;

        public async Task CommitAsync(CancellationToken cancellationToken)
        {
            var content = _buffer.Spilled ?? _buffer.Buffer;
            await content.FlushAsync(cancellationToken);
            content.Position = 0;
            await client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, InputStream = content, AutoCloseStream = false }, cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            if (_buffer.Spilled is { } file)
            {
                await file.DisposeAsync();
            }
        }
    }
}
