namespace Inlet.Storage;

/// <summary>
/// Named objects in containers: the spool of raw messages, and the S3 action's buckets. The embedded
/// implementation is files in the data folder; any S3-compatible store can take its place.
/// </summary>
internal interface IBlobStore
{
    /// <summary>Opens a new object for writing; nothing is visible until it is committed.</summary>
    Task<IBlobWriter> CreateAsync(string container, string key, CancellationToken cancellationToken);

    Task<Stream?> OpenReadAsync(string container, string key, CancellationToken cancellationToken);

    Task<bool> ExistsAsync(string container, string key, CancellationToken cancellationToken);

    Task DeleteAsync(string container, string key, CancellationToken cancellationToken);

    IAsyncEnumerable<string> ListKeysAsync(string container, CancellationToken cancellationToken);
}

internal interface IBlobWriter : IAsyncDisposable
{
    Stream Stream { get; }

    /// <summary>Flushes the object to stable storage and makes it visible. Disposing without commit deletes it.</summary>
    Task CommitAsync(CancellationToken cancellationToken);
}
