namespace Inlet.Storage;

/// <summary>An object's key, size and last change.</summary>
internal sealed record BlobInfo(string Key, long Size, DateTime LastModifiedUtc);

/// <summary>A container's name and the time it was created (S3's bucket <c>CreationDate</c>).</summary>
internal sealed record ContainerInfo(string Name, DateTime CreatedUtc);

/// <summary>
/// Named objects in containers: the spool of raw messages, and the S3 action's buckets. The embedded
/// implementation is files in the data folder; any S3-compatible store can take its place.
/// </summary>
internal interface IBlobStore
{
    Task<bool> ContainerExistsAsync(string container, CancellationToken cancellationToken);

    Task CreateContainerAsync(string container, CancellationToken cancellationToken);

    Task<bool> DeleteContainerAsync(string container, CancellationToken cancellationToken);

    IAsyncEnumerable<ContainerInfo> ListContainersAsync(CancellationToken cancellationToken);

    /// <summary>The container's access policy document (S3's bucket policy) as it was put; null when it has none.</summary>
    Task<string?> GetPolicyAsync(string container, CancellationToken cancellationToken);

    Task PutPolicyAsync(string container, string policy, CancellationToken cancellationToken);

    Task DeletePolicyAsync(string container, CancellationToken cancellationToken);

    /// <summary>Opens a new object for writing; nothing is visible until it is committed.</summary>
    Task<IBlobWriter> CreateAsync(string container, string key, CancellationToken cancellationToken);

    Task<Stream?> OpenReadAsync(string container, string key, CancellationToken cancellationToken);

    Task<BlobInfo?> GetInfoAsync(string container, string key, CancellationToken cancellationToken);

    Task DeleteAsync(string container, string key, CancellationToken cancellationToken);

    /// <summary>Every object of a container, in key order.</summary>
    IAsyncEnumerable<BlobInfo> ListAsync(string container, CancellationToken cancellationToken);
}

internal interface IBlobWriter : IAsyncDisposable
{
    Stream Stream { get; }

    /// <summary>Flushes the object to stable storage and makes it visible. Disposing without commit deletes it.</summary>
    Task CommitAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Makes the object visible and returns what completes its commit, for a caller whose own next write to the
    /// state store is what acknowledges the object. A writer whose durability rides that store's group commit
    /// (<see cref="JournaledBucketStore"/>) is durable no later than any write its caller issues after this returns,
    /// and the returned task has completed by then; the caller awaits it after that write, to learn of a failure.
    /// Every other writer commits before it returns.
    /// </summary>
    async Task<Task> StartCommitAsync(CancellationToken cancellationToken)
    {
        await CommitAsync(cancellationToken);
        return Task.CompletedTask;
    }
}

/// <summary>A blob store with files on this machine's file system, for what only files have (free space, partials).</summary>
internal interface ILocalFiles
{
    FileBlobStore Files { get; }
}

/// <summary>
/// A spool that can make a message's data durable in the transaction that inserts its record: one commit where two
/// would follow each other.
/// </summary>
internal interface IRecordSharingSpool
{
    /// <summary>Commits the data written through <paramref name="writer"/> with the record; false, and nothing done, when it cannot.</summary>
    Task<bool> TryCommitWithMessageAsync(IBlobWriter writer, MessageRecord message, TimeSpan? lease, CancellationToken cancellationToken);

    /// <summary>What was written through <paramref name="writer"/>, while it is still only in memory and would share the record's commit; null otherwise.</summary>
    byte[]? HeldInMemory(IBlobWriter writer);
}

/// <summary>The two blob stores: the spool of received messages (and outgoing bounces), and the S3 action's buckets.</summary>
internal sealed record BlobStores(IBlobStore Spool, IBlobStore Buckets)
{
    /// <summary>The files behind a blob store of this machine's file system (the embedded spool's, say), if it has them.</summary>
    public static FileBlobStore? FilesOf(IBlobStore store) => (store as ILocalFiles)?.Files;
}
