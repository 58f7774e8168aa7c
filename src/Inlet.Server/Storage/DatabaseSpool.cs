using System.Runtime.CompilerServices;

namespace Inlet.Storage;

/// <summary>Small objects kept in the state store itself, committed with its other writes.</summary>
internal interface ISmallBlobStore
{
    /// <summary>Durably stores the object; returns once it is committed.</summary>
    Task PutBlobAsync(string container, string key, byte[] data, CancellationToken cancellationToken);

    Task<(byte[] Data, DateTimeOffset CreatedAt)?> GetBlobAsync(string container, string key, CancellationToken cancellationToken);

    /// <summary>Stores the object and inserts the record of the message it holds in one transaction: one commit where two would follow each other.</summary>
    Task PutBlobWithMessageAsync(string container, string key, byte[] data, MessageRecord message, TimeSpan? lease, CancellationToken cancellationToken);

    Task DeleteBlobAsync(string container, string key, CancellationToken cancellationToken);

    Task<IReadOnlyList<BlobInfo>> ListBlobsAsync(string container, CancellationToken cancellationToken);
}

/// <summary>
/// The embedded spool with group commit: a message of up to <see cref="InlineLimit"/> octets is kept in the SQLite
/// database, whose one writer commits every message that finished at the same instant with one fsync of its
/// write-ahead log — where a file per message costs an fsync of the file and one of its folder, each. A larger message
/// is streamed to its own file as before (it is spilled there the moment it outgrows the limit, so it never sits
/// whole in memory). Readers do not see the difference.
/// </summary>
internal sealed class DatabaseSpool(FileBlobStore files, ISmallBlobStore database) : IBlobStore, ILocalFiles, IRecordSharingSpool
{
    /// <summary>The largest message kept in the database: far above the usual message, far below SQLite's page cache.</summary>
    public const int InlineLimit = 128 * 1024;

    private readonly ISmallBlobStore _database = database;

    /// <summary>The files, for what only they have (free space, half-written files after a crash).</summary>
    public FileBlobStore Files { get; } = files;

    public Task<bool> ContainerExistsAsync(string container, CancellationToken cancellationToken) => Files.ContainerExistsAsync(container, cancellationToken);

    public Task CreateContainerAsync(string container, CancellationToken cancellationToken) => Files.CreateContainerAsync(container, cancellationToken);

    public Task<bool> DeleteContainerAsync(string container, CancellationToken cancellationToken) => Files.DeleteContainerAsync(container, cancellationToken);

    public IAsyncEnumerable<ContainerInfo> ListContainersAsync(CancellationToken cancellationToken) => Files.ListContainersAsync(cancellationToken);

    public Task<string?> GetPolicyAsync(string container, CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    public Task PutPolicyAsync(string container, string policy, CancellationToken cancellationToken) => throw new NotSupportedException("The spool has no policy.");

    public Task DeletePolicyAsync(string container, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<IBlobWriter> CreateAsync(string container, string key, CancellationToken cancellationToken) =>
        Task.FromResult<IBlobWriter>(new SpillingWriter(this, container, key));

    public async Task<Stream?> OpenReadAsync(string container, string key, CancellationToken cancellationToken) =>
        await _database.GetBlobAsync(container, key, cancellationToken) is { } blob
            // Its buffer is visible, so that a reader keeping the whole message can take it without a copy.
            ? new MemoryStream(blob.Data, 0, blob.Data.Length, writable: false, publiclyVisible: true)
            : await Files.OpenReadAsync(container, key, cancellationToken);

    public async Task<BlobInfo?> GetInfoAsync(string container, string key, CancellationToken cancellationToken) =>
        await _database.GetBlobAsync(container, key, cancellationToken) is { } blob
            ? new BlobInfo(key, blob.Data.Length, blob.CreatedAt.UtcDateTime)
            : await Files.GetInfoAsync(container, key, cancellationToken);

    public async Task DeleteAsync(string container, string key, CancellationToken cancellationToken)
    {
        await _database.DeleteBlobAsync(container, key, cancellationToken);
        await Files.DeleteAsync(container, key, cancellationToken);
    }

    public async IAsyncEnumerable<BlobInfo> ListAsync(string container, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var merged = (await _database.ListBlobsAsync(container, cancellationToken)).ToList();
        await foreach (var file in Files.ListAsync(container, cancellationToken))
        {
            merged.Add(file);
        }

        foreach (var blob in merged.OrderBy(b => b.Key, StringComparer.Ordinal))
        {
            yield return blob;
        }
    }

    /// <summary>
    /// Commits a message written through this spool together with its record, when it is small enough to be kept in
    /// the database (false, and nothing done, when it is not: it was spilled to its own file, committed apart).
    /// </summary>
    public async Task<bool> TryCommitWithMessageAsync(IBlobWriter writer, MessageRecord message, TimeSpan? lease, CancellationToken cancellationToken)
    {
        if (Small(writer) is not { } small)
        {
            return false;
        }

        await _database.PutBlobWithMessageAsync(small.Container, small.Key, small.Data, message, lease, cancellationToken);
        return true;
    }

    public byte[]? HeldInMemory(IBlobWriter writer) => Small(writer)?.Data;

    private SpillingWriter? Small(IBlobWriter writer) =>
        writer is SpillingWriter { InMemory: true } small && ReferenceEquals(small.Spool, this) ? small : null;

    /// <summary>Buffers up to the limit in memory; past it, a file of the spool takes what it holds and the rest.</summary>
    private sealed class SpillingWriter(DatabaseSpool spool, string container, string key) : SpillingBlobWriter(spool.Files, container, key, InlineLimit)
    {
        public DatabaseSpool Spool => spool;

        public override async Task CommitAsync(CancellationToken cancellationToken)
        {
            if (Spilled is not null)
            {
                await Spilled.CommitAsync(cancellationToken);
            }
            else
            {
                await spool._database.PutBlobAsync(Container, Key, Data, cancellationToken);
            }
        }
    }
}
