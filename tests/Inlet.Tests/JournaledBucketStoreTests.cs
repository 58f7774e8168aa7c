using System.Text;
using Inlet.Storage;

namespace Inlet.Tests;

/// <summary>
/// The file bucket store with its journal in a real SQLite database. A crash's loss of unflushed files is played by
/// deleting or cutting a file while the journal still holds its entry, then replaying as a restarted node does.
/// </summary>
public sealed class JournaledBucketStoreTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "inlet-journal-" + Guid.NewGuid().ToString("N"));
    private SqliteStateStore _state = null!;
    private FileBlobStore _files = null!;
    private JournaledBucketStore _store = null!;

    private string ObjectPath(string key) => Path.Combine(_files.Root, "mail", FileBlobStore.Escape(key));

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        _state = new SqliteStateStore(Path.Combine(_directory, "inlet.db"), "test-node");
        await _state.InitializeAsync(CancellationToken.None);
        _files = new FileBlobStore(Path.Combine(_directory, "buckets"));
        _store = new JournaledBucketStore(_files, _state);
        await _store.CreateContainerAsync("mail", CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _state.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task ASmallObject_IsReadableAtOnce_AndWaitsInTheJournalUntilFlushed()
    {
        await PutAsync("a", "first");

        Assert.Equal("first", await ReadAsync("a"));
        Assert.Single(await _state.ReadAllAsync(CancellationToken.None));

        await _store.FlushAsync(CancellationToken.None);

        Assert.Empty(await _state.ReadAllAsync(CancellationToken.None));
        Assert.Equal("first", await ReadAsync("a"));
    }

    [Fact]
    public async Task StopOutOfTime_DoesNotFailTheStop_AndTheJournalKeepsItsEntries()
    {
        await PutAsync("a", "kept");
        var flusher = new BucketJournalFlusher(_store, new StateOptions(), Microsoft.Extensions.Logging.Abstractions.NullLogger<BucketJournalFlusher>.Instance);
        using var outOfTime = new CancellationTokenSource();
        await outOfTime.CancelAsync();

        await flusher.StopAsync(outOfTime.Token);

        Assert.Single(await _state.ReadAllAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Replay_WritesAgainWhatACrashTookFromThePageCache_NewestContentLast()
    {
        await PutAsync("lost", "old");
        await PutAsync("lost", "new");
        await PutAsync("cut", "whole content");
        File.Delete(ObjectPath("lost"));
        await File.WriteAllBytesAsync(ObjectPath("cut"), []);

        var replayed = await new JournaledBucketStore(_files, _state).ReplayAsync(CancellationToken.None);

        Assert.Equal(3, replayed);
        Assert.Equal("new", await ReadAsync("lost"));
        Assert.Equal("whole content", await ReadAsync("cut"));
        Assert.Empty(await _state.ReadAllAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ADelete_FlushesFirst_SoThatAReplayDoesNotBringTheObjectBack()
    {
        await PutAsync("gone", "content");

        await _store.DeleteAsync("mail", "gone", CancellationToken.None);
        await new JournaledBucketStore(_files, _state).ReplayAsync(CancellationToken.None);

        Assert.Null(await _store.GetInfoAsync("mail", "gone", CancellationToken.None));
    }

    [Fact]
    public async Task ALargeObject_IsFsyncedAsBefore_AndNoOlderJournaledContentIsReplayedOverIt()
    {
        await PutAsync("big", "small at first");
        var large = new string('x', JournaledBucketStore.JournalLimit + 1);

        await PutAsync("big", large);
        await new JournaledBucketStore(_files, _state).ReplayAsync(CancellationToken.None);

        Assert.Empty(await _state.ReadAllAsync(CancellationToken.None));
        Assert.Equal(large, await ReadAsync("big"));
    }

    [Fact]
    public async Task AnObjectOfABucketRemovedSince_IsNotWrittenAgain()
    {
        await PutAsync("orphan", "content");
        Directory.Delete(Path.Combine(_files.Root, "mail"), recursive: true);

        var replayed = await new JournaledBucketStore(_files, _state).ReplayAsync(CancellationToken.None);

        Assert.Equal(1, replayed);
        Assert.False(Directory.Exists(Path.Combine(_files.Root, "mail")));
        Assert.Empty(await _state.ReadAllAsync(CancellationToken.None));
    }

    [Fact]
    public async Task EveryBucketRemovedSince_TheFolderItselfToo_IsNoStartUpError()
    {
        await PutAsync("orphan", "content");
        Directory.Delete(_files.Root, recursive: true);

        var replayed = await new JournaledBucketStore(_files, _state).ReplayAsync(CancellationToken.None);

        Assert.Equal(1, replayed);
        Assert.False(Directory.Exists(_files.Root));
        Assert.Empty(await _state.ReadAllAsync(CancellationToken.None));
    }

    [Fact]
    public async Task AFlush_AfterTheBucketsFolderWasRemovedByHand_EmptiesTheJournal()
    {
        await PutAsync("orphan", "content");
        Directory.Delete(_files.Root, recursive: true);

        await _store.FlushAsync(CancellationToken.None);

        Assert.Empty(await _state.ReadAllAsync(CancellationToken.None));
    }

    [Fact]
    public async Task AWriteNeverCommitted_LeavesNothing()
    {
        await using (var writer = await _store.CreateAsync("mail", "abandoned", CancellationToken.None))
        {
            await writer.Stream.WriteAsync(Encoding.UTF8.GetBytes("half"));
        }

        Assert.Null(await _store.GetInfoAsync("mail", "abandoned", CancellationToken.None));
        Assert.Empty(await _state.ReadAllAsync(CancellationToken.None));
        Assert.Empty(Directory.GetFiles(Path.Combine(_files.Root, "mail"), "#*"));
    }

    private async Task PutAsync(string key, string content)
    {
        await using var writer = await _store.CreateAsync("mail", key, CancellationToken.None);
        await writer.Stream.WriteAsync(Encoding.UTF8.GetBytes(content));
        await writer.CommitAsync(CancellationToken.None);
    }

    private async Task<string> ReadAsync(string key)
    {
        await using var stream = await _store.OpenReadAsync("mail", key, CancellationToken.None);
        Assert.NotNull(stream);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }
}
