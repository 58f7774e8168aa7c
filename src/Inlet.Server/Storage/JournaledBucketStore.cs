namespace Inlet.Storage;

/// <summary>
/// The file bucket store with a write-ahead journal in the state store. A small object's file is written without
/// an fsync; its content is committed to the journal instead, by the group commit that message records share, so
/// that the objects of messages finishing at the same instant cost one fsync where each cost two (its file's and
/// its folder's). Every so often (<see cref="FlushAsync"/>) one syncfs(2) puts all those files on disk and the
/// journal is emptied up to there. At start-up the journal is replayed: whatever a crash took from the page cache
/// is written again.
/// </summary>
/// <remarks>
/// An object over <see cref="JournalLimit"/> is written and fsynced as before. That write, a delete and a bucket's
/// removal first flush the journal, so that a replay never puts an older content back over what they did. The
/// files stay the objects: the S3 API, listings and a user's own look at the folder see them as before.
/// </remarks>
internal sealed class JournaledBucketStore(FileBlobStore files, IObjectJournal journal) : IBlobStore, ILocalFiles
{
    /// <summary>The largest object journaled: a message of the usual size, far below SQLite's page cache.</summary>
    public const int JournalLimit = DatabaseSpool.InlineLimit;

    private readonly IObjectJournal _journal = journal;
    private readonly SemaphoreSlim _flushing = new(1, 1);

    /// <summary>Journaled objects whose files may not be on disk yet.</summary>
    private long _unflushed;

    public FileBlobStore Files { get; } = files;

    public Task<bool> ContainerExistsAsync(string container, CancellationToken cancellationToken) => Files.ContainerExistsAsync(container, cancellationToken);

    public Task CreateContainerAsync(string container, CancellationToken cancellationToken) => Files.CreateContainerAsync(container, cancellationToken);

    public async Task<bool> DeleteContainerAsync(string container, CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken);
        return await Files.DeleteContainerAsync(container, cancellationToken);
    }

    public IAsyncEnumerable<ContainerInfo> ListContainersAsync(CancellationToken cancellationToken) => Files.ListContainersAsync(cancellationToken);

    public Task<string?> GetPolicyAsync(string container, CancellationToken cancellationToken) => Files.GetPolicyAsync(container, cancellationToken);

    public Task PutPolicyAsync(string container, string policy, CancellationToken cancellationToken) => Files.PutPolicyAsync(container, policy, cancellationToken);

    public Task DeletePolicyAsync(string container, CancellationToken cancellationToken) => Files.DeletePolicyAsync(container, cancellationToken);

    public Task<IBlobWriter> CreateAsync(string container, string key, CancellationToken cancellationToken) =>
        Task.FromResult<IBlobWriter>(new JournaledWriter(this, container, key));

    public Task<Stream?> OpenReadAsync(string container, string key, CancellationToken cancellationToken) => Files.OpenReadAsync(container, key, cancellationToken);

    public Task<BlobInfo?> GetInfoAsync(string container, string key, CancellationToken cancellationToken) => Files.GetInfoAsync(container, key, cancellationToken);

    public async Task DeleteAsync(string container, string key, CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken);
        await Files.DeleteAsync(container, key, cancellationToken);
    }

    public IAsyncEnumerable<BlobInfo> ListAsync(string container, CancellationToken cancellationToken) => Files.ListAsync(container, cancellationToken);

    /// <summary>
    /// Puts every journaled object's file on disk and empties the journal up to there. Nothing to do, and no look at
    /// the journal, when no object was journaled since the last flush.
    /// </summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _unflushed) == 0)
        {
            return;
        }

        await _flushing.WaitAsync(cancellationToken);
        try
        {
            // Counted before the look at the journal: an object counted here was committed before it, so its entry
            // is at or below the id found, and its file was written before that.
            var counted = Volatile.Read(ref _unflushed);
            if (counted == 0)
            {
                return;
            }

            if (await _journal.LastIdAsync(cancellationToken) is { } last)
            {
                // With the buckets' folder removed by hand there is no file left to put on disk.
                if (Directory.Exists(Files.Root))
                {
                    Files.SyncFileSystem();
                }

                await _journal.TruncateAsync(last, cancellationToken);
            }

            Interlocked.Add(ref _unflushed, -counted);
        }
        finally
        {
            _flushing.Release();
        }
    }

    /// <summary>
    /// At start-up, before any bucket is read or written: writes again every object the journal holds, oldest first
    /// (so the newest content of a key is the one left), puts them on disk and empties the journal. An object of a
    /// bucket that no longer exists is not written. Returns how many entries there were.
    /// </summary>
    public async Task<int> ReplayAsync(CancellationToken cancellationToken)
    {
        var entries = await _journal.ReadAllAsync(cancellationToken);
        if (entries.Count == 0)
        {
            return 0;
        }

        var written = 0;
        foreach (var entry in entries)
        {
            if (await Files.ContainerExistsAsync(entry.Container, cancellationToken))
            {
                await Files.WriteWithoutSyncAsync(entry.Container, entry.Key, entry.Data, cancellationToken);
                written++;
            }
        }

        if (written > 0)
        {
            Files.SyncFileSystem();
        }

        await _journal.TruncateAsync(entries[^1].Id, cancellationToken);
        return entries.Count;
    }

    /// <summary>Holds a small object in memory until its commit; past the limit, a fsynced file takes it all.</summary>
    private sealed class JournaledWriter(JournaledBucketStore store, string container, string key) : SpillingBlobWriter(store.Files, container, key, JournalLimit)
    {
        public override async Task CommitAsync(CancellationToken cancellationToken) => await await StartCommitAsync(cancellationToken);

        public override async Task<Task> StartCommitAsync(CancellationToken cancellationToken)
        {
            if (Spilled is not null)
            {
                await store.FlushAsync(cancellationToken);
                await Spilled.CommitAsync(cancellationToken);
                return Task.CompletedTask;
            }

            var data = Data;
            await store.Files.WriteWithoutSyncAsync(Container, Key, data, cancellationToken);
            // In the writer's queue when this returns: whatever the caller writes next commits with it or after it.
            return JournalAsync(store._journal.AppendAsync(Container, Key, data, cancellationToken));
        }

        private async Task JournalAsync(Task appended)
        {
            try
            {
                await appended;
                Interlocked.Increment(ref store._unflushed);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // No entry: the file is made durable the other way, with every other file of the file system.
                store.Files.SyncFileSystem();
            }
        }
    }
}
