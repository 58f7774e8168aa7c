using Inlet.Functions;
using Inlet.Management;
using Inlet.Notifications;
using Inlet.Processing;
using Inlet.Rules;
using Inlet.Storage;

namespace Inlet.Tests;

/// <summary>
/// The store contracts that several nodes rely on, with two stores — two nodes — on one SQLite file: work claimed
/// for a lease by one node at a time, leases that run out or are released, conditional updates, configuration
/// versions saved without a lost update, and the change feed.
/// </summary>
public sealed class SharedStateTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "inlet-shared-" + Guid.NewGuid().ToString("N"));
    private SqliteStateStore _a = null!;
    private SqliteStateStore _b = null!;

    private string Database => Path.Combine(_directory, "inlet.db");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        _a = new SqliteStateStore(Database, "node-a");
        await _a.InitializeAsync(CancellationToken.None);
        _b = new SqliteStateStore(Database, "node-b");
        await _b.InitializeAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Claim_TwoNodes_TakeDifferentMessages()
    {
        var ids = await InsertAsync(10);

        var first = await Messages(_a).ClaimDueAsync(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), 4, CancellationToken.None);
        var second = await Messages(_b).ClaimDueAsync(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), 10, CancellationToken.None);

        Assert.Equal(4, first.Count);
        Assert.Equal(6, second.Count);
        Assert.Equal(ids.Order(), first.Concat(second).Select(m => m.Id).Order());
        Assert.Empty(await Messages(_a).ClaimDueAsync(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), 10, CancellationToken.None));
    }

    [Fact]
    public async Task Claim_LeaseRanOut_AnotherNodeTakesOverAndTheFirstCannotChangeIt()
    {
        var id = (await InsertAsync(1))[0];
        var now = DateTimeOffset.UtcNow;
        Assert.Single(await Messages(_a).ClaimDueAsync(now, TimeSpan.FromSeconds(30), 1, CancellationToken.None));
        Assert.Empty(await Messages(_b).ClaimDueAsync(now.AddSeconds(29), TimeSpan.FromSeconds(30), 1, CancellationToken.None));

        // Node a stalls past its lease: node b claims the message, and a's late update is refused.
        Assert.Single(await Messages(_b).ClaimDueAsync(now.AddSeconds(31), TimeSpan.FromMinutes(10), 1, CancellationToken.None));
        Assert.False(await _a.UpdateMessageAsync(new MessageUpdate(id, MessageStatus.Processed), CancellationToken.None));
        Assert.True(await _b.UpdateMessageAsync(new MessageUpdate(id, MessageStatus.Processed), CancellationToken.None));
        Assert.Equal(MessageStatus.Processed, (await _a.GetMessageAsync(id, CancellationToken.None))!.Status);
    }

    [Fact]
    public async Task Release_ClaimedMessage_IsDueAgainAtOnce()
    {
        var id = (await InsertAsync(1))[0];
        await Messages(_a).ClaimDueAsync(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(10), 1, CancellationToken.None);
        await Messages(_b).ReleaseAsync(id, CancellationToken.None);
        Assert.Empty(await Messages(_b).ClaimDueAsync(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), 1, CancellationToken.None));

        await Messages(_a).ReleaseAsync(id, CancellationToken.None);

        Assert.Equal(id, Assert.Single(await Messages(_b).ClaimDueAsync(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), 1, CancellationToken.None)).Id);
    }

    [Fact]
    public async Task Update_EndingTheMessage_GivesUpTheLeaseInTheSameWrite()
    {
        var id = (await InsertAsync(1))[0];
        await Messages(_a).ClaimDueAsync(DateTimeOffset.UtcNow, TimeSpan.FromHours(1), 1, CancellationToken.None);
        Assert.False(await _b.UpdateMessageAsync(new MessageUpdate(id, MessageStatus.Queued), CancellationToken.None));

        // Node a ends the message and dies before it releases: no lease is left behind to hold a replay back.
        Assert.True(await _a.UpdateMessageAsync(new MessageUpdate(id, MessageStatus.Processed), CancellationToken.None));

        Assert.True(await _b.UpdateMessageAsync(new MessageUpdate(id, MessageStatus.Queued), CancellationToken.None));
        Assert.Single(await Messages(_b).ClaimDueAsync(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), 1, CancellationToken.None));
    }

    [Fact]
    public async Task Update_WaitingForARetry_GivesUpTheLeaseSoTheRetryIsAnyNodes()
    {
        var id = (await InsertAsync(1))[0];
        var now = DateTimeOffset.UtcNow;
        await Messages(_a).ClaimDueAsync(now, TimeSpan.FromHours(1), 1, CancellationToken.None);

        Assert.True(await _a.UpdateMessageAsync(new MessageUpdate(id, MessageStatus.Retrying) { NextAttemptAt = now.AddSeconds(5) }, CancellationToken.None));

        // No release was made: at its time the retry is due for node b, long before node a's hour would end.
        Assert.Equal(id, Assert.Single(await Messages(_b).ClaimDueAsync(now.AddSeconds(6), TimeSpan.FromMinutes(1), 1, CancellationToken.None)).Id);
    }

    [Fact]
    public async Task Spool_SmallMessage_DataAndRecordAreOneTransaction()
    {
        var spool = new DatabaseSpool(new FileBlobStore(Path.Combine(_directory, "files")), _a);
        var id = MessageId.New(DateTimeOffset.UtcNow);
        var record = new MessageRecord { Id = id, ReceivedAt = DateTimeOffset.UtcNow, MailFrom = "a@example.net", Recipients = ["b@example.com"] };
        await using (var writer = await spool.CreateAsync("spool", id + ".eml", CancellationToken.None))
        {
            await writer.Stream.WriteAsync("Subject: hi\r\n\r\nbody\r\n"u8.ToArray());
            Assert.True(await spool.TryCommitWithMessageAsync(writer, record, null, CancellationToken.None));
        }

        Assert.NotNull(await _b.GetMessageAsync(id, CancellationToken.None));
        Assert.Equal(21, (await spool.GetInfoAsync("spool", id + ".eml", CancellationToken.None))!.Size);

        // A record that cannot be inserted (its id is taken) takes its data down with it.
        await using (var again = await spool.CreateAsync("spool", "other.eml", CancellationToken.None))
        {
            await again.Stream.WriteAsync("x"u8.ToArray());
            await Assert.ThrowsAnyAsync<Exception>(() => spool.TryCommitWithMessageAsync(again, record, null, CancellationToken.None));
        }

        Assert.Null(await spool.GetInfoAsync("spool", "other.eml", CancellationToken.None));
    }

    [Fact]
    public async Task Spool_LargeMessage_IsLeftToItsOwnFile()
    {
        var spool = new DatabaseSpool(new FileBlobStore(Path.Combine(_directory, "files")), _a);
        var record = new MessageRecord { Id = "large", ReceivedAt = DateTimeOffset.UtcNow, MailFrom = "a@example.net", Recipients = ["b@example.com"] };
        await using var writer = await spool.CreateAsync("spool", "large.eml", CancellationToken.None);
        await writer.Stream.WriteAsync(new byte[DatabaseSpool.InlineLimit + 1]);

        Assert.False(await spool.TryCommitWithMessageAsync(writer, record, null, CancellationToken.None));
        Assert.Null(await _a.GetMessageAsync("large", CancellationToken.None));
    }

    [Fact]
    public async Task Claim_ManyKinds_LeftoversFirstThenOldestNewThenDueRetries()
    {
        var ids = await InsertAsync(5);
        var now = DateTimeOffset.UtcNow;
        // ids[0] waits for a retry that is due; ids[1] for one that is not; ids[2] was left processing by a node
        // that stopped; ids[3] and ids[4] are new.
        await _a.UpdateMessageAsync(new MessageUpdate(ids[0], MessageStatus.Retrying) { NextAttemptAt = now.AddSeconds(-1) }, CancellationToken.None);
        await _a.UpdateMessageAsync(new MessageUpdate(ids[1], MessageStatus.Retrying) { NextAttemptAt = now.AddHours(1) }, CancellationToken.None);
        await _a.UpdateMessageAsync(new MessageUpdate(ids[2], MessageStatus.Processing), CancellationToken.None);

        var first = await Messages(_b).ClaimDueAsync(now, TimeSpan.FromMinutes(1), 2, CancellationToken.None);
        var rest = await Messages(_b).ClaimDueAsync(now, TimeSpan.FromMinutes(1), 10, CancellationToken.None);

        var fresh = new[] { ids[3], ids[4] }.Order(StringComparer.Ordinal).ToList();
        Assert.Equal([ids[2], fresh[0]], first.Select(m => m.Id));
        Assert.Equal([fresh[1], ids[0]], rest.Select(m => m.Id));
    }

    [Fact]
    public async Task Renew_KeepsTheLeasePastItsFirstEnd()
    {
        var id = (await InsertAsync(1))[0];
        var now = DateTimeOffset.UtcNow;
        await Messages(_a).ClaimDueAsync(now, TimeSpan.FromSeconds(30), 1, CancellationToken.None);

        await Messages(_a).RenewAsync([id], now.AddSeconds(20), TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.Empty(await Messages(_b).ClaimDueAsync(now.AddSeconds(45), TimeSpan.FromSeconds(30), 1, CancellationToken.None));
        Assert.Single(await Messages(_b).ClaimDueAsync(now.AddSeconds(51), TimeSpan.FromSeconds(30), 1, CancellationToken.None));
    }

    [Fact]
    public async Task Renew_ThreeLeases_AllOfThemKept()
    {
        // Three ids make an IN list of four, the last one named twice.
        var ids = await InsertAsync(3);
        var now = DateTimeOffset.UtcNow;
        Assert.Equal(3, (await Messages(_a).ClaimDueAsync(now, TimeSpan.FromSeconds(30), 3, CancellationToken.None)).Count);

        await Messages(_a).RenewAsync(ids, now.AddSeconds(20), TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.Empty(await Messages(_b).ClaimDueAsync(now.AddSeconds(45), TimeSpan.FromSeconds(30), 3, CancellationToken.None));
        Assert.Equal(3, (await Messages(_b).ClaimDueAsync(now.AddSeconds(51), TimeSpan.FromSeconds(30), 3, CancellationToken.None)).Count);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 4)]
    [InlineData(4, 4)]
    [InlineData(5, 8)]
    [InlineData(64, 64)]
    public void IdList_RoundsUpToAPowerOfTwo_WithTheLastIdRepeated(int count, int names)
    {
        var ids = Enumerable.Range(0, count).Select(i => "m" + i).ToList();

        var (text, values) = SqlStateStore.IdList(ids);

        Assert.Equal(names, values.Length);
        Assert.Equal(string.Join(", ", Enumerable.Range(0, names).Select(i => "@id" + i)), text);
        Assert.Equal(ids.Concat(Enumerable.Repeat(ids[^1], names - count)), values.Select(v => (string)v.Item2!));
    }

    [Fact]
    public async Task Initialize_SameNodeRestarted_TakesItsWorkBackAtOnce()
    {
        var id = (await InsertAsync(1))[0];
        await Messages(_a).ClaimDueAsync(DateTimeOffset.UtcNow, TimeSpan.FromHours(1), 1, CancellationToken.None);

        // Node a is killed and starts again under the same id: its old lease does not hold its own work back.
        await using var restarted = new SqliteStateStore(Database, "node-a");
        await restarted.InitializeAsync(CancellationToken.None);

        Assert.Equal(id, Assert.Single(await Messages(restarted).ClaimDueAsync(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), 1, CancellationToken.None)).Id);
    }

    [Fact]
    public async Task Claim_RetryingMessage_IsDueOnlyAtItsTime()
    {
        var id = (await InsertAsync(1))[0];
        var due = DateTimeOffset.UtcNow.AddMinutes(5);
        await _a.UpdateMessageAsync(new MessageUpdate(id, MessageStatus.Retrying) { NextAttemptAt = due }, CancellationToken.None);

        Assert.Empty(await Messages(_a).ClaimDueAsync(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), 1, CancellationToken.None));
        Assert.Equal(due.ToUnixTimeMilliseconds(), (await Messages(_b).NextDueAsync(CancellationToken.None))!.Value.ToUnixTimeMilliseconds());
        Assert.Single(await Messages(_b).ClaimDueAsync(due.AddSeconds(1), TimeSpan.FromMinutes(1), 1, CancellationToken.None));
    }

    [Fact]
    public async Task ClaimInvocations_DeadLettered_AreNotDue()
    {
        var now = DateTimeOffset.UtcNow;
        await _a.InsertInvocationAsync(new AsyncInvocationRecord { Id = "live", FunctionName = "f", Payload = [1], CreatedAt = now, NextAttemptAt = now }, CancellationToken.None);
        await _a.InsertInvocationAsync(new AsyncInvocationRecord { Id = "dead", FunctionName = "f", Payload = [1], CreatedAt = now, NextAttemptAt = now, Status = InvocationStatus.Dead }, CancellationToken.None);

        var claimed = await _b.InvocationQueue.ClaimDueAsync(now.AddSeconds(1), TimeSpan.FromMinutes(1), 10, CancellationToken.None);

        Assert.Equal("live", Assert.Single(claimed).Id);
        Assert.False(await _a.UpdateInvocationAsync(claimed[0] with { Attempts = 1 }, CancellationToken.None));
    }

    [Fact]
    public async Task SaveConfiguration_MadeFromAnOlderVersion_IsRefused()
    {
        var first = await _a.SaveConfigurationAsync("{\"one\":1}", 0, CancellationToken.None);

        var conflict = await Assert.ThrowsAsync<ConfigurationConflictException>(() => _b.SaveConfigurationAsync("{\"two\":2}", 0, CancellationToken.None));

        Assert.Equal(first, conflict.Latest);
        // The same document is not a conflict: it is already the newest version.
        Assert.Equal(first, await _b.SaveConfigurationAsync("{\"one\":1}", 0, CancellationToken.None));
        Assert.Equal(first + 1, await _b.SaveConfigurationAsync("{\"two\":2}", first, CancellationToken.None));
    }

    [Fact]
    public async Task ReceiptRules_TwoNodesChangeAtOnce_NeitherChangeIsLost()
    {
        var nodeA = await RulesServiceAsync(_a);
        var nodeB = await RulesServiceAsync(_b);

        // Node b has not seen node a's change when it makes its own.
        await nodeA.CreateRuleSetAsync("from-a", CancellationToken.None);
        await nodeB.CreateRuleSetAsync("from-b", CancellationToken.None);

        Assert.Equal(["from-a", "from-b"], nodeB.Configuration.RuleSets.Select(s => s.Name).Order());
        var latest = await _a.GetLatestConfigurationAsync(CancellationToken.None);
        Assert.Equal(["from-a", "from-b"], RulesJsonContext.Deserialize(latest!.Value.Document, latest.Value.Version).RuleSets.Select(s => s.Name).Order());
        // A change the other node made impossible gets SES's error, as if the two had come one after the other.
        var error = await Assert.ThrowsAsync<ReceiptException>(() => nodeA.CreateRuleSetAsync("from-b", CancellationToken.None));
        Assert.Equal("AlreadyExists", error.Code);
    }

    [Fact]
    public async Task ChangeFeed_TopicChanged_RaisesItsVersionForEveryNode()
    {
        var before = (await _b.ReadVersionsAsync(CancellationToken.None)).GetValueOrDefault(StateAggregate.Topics);

        await _a.PutTopicAsync(new TopicRecord("arn:aws:sns:us-east-1:000000000000:t", "t", new Dictionary<string, string>(), DateTimeOffset.UtcNow), CancellationToken.None);

        Assert.Equal(before + 1, (await _b.ReadVersionsAsync(CancellationToken.None))[StateAggregate.Topics]);
    }

    private static IWorkQueue<MessageRecord> Messages(SqliteStateStore store) => store.MessageQueue;

    private async Task<List<string>> InsertAsync(int count)
    {
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var id = MessageId.New(DateTimeOffset.UtcNow);
            await _a.InsertMessageAsync(new MessageRecord { Id = id, ReceivedAt = DateTimeOffset.UtcNow, MailFrom = "a@example.net", Recipients = ["b@example.com"] }, null, CancellationToken.None);
            ids.Add(id);
        }

        return ids;
    }

    private async Task<ReceiptRulesService> RulesServiceAsync(SqliteStateStore store)
    {
        var latest = await store.GetLatestConfigurationAsync(CancellationToken.None);
        var current = new ReceiptConfigurationProvider(latest is { } l ? RulesJsonContext.Deserialize(l.Document, l.Version) : ReceiptConfiguration.Empty);
        var registry = new FunctionRegistry("us-east-1", "000000000000");
        var sns = new SnsService(store, store, SnsSigner.LoadOrCreate(Path.Combine(_directory, "tls-" + store.NodeId)), new PublicEndpoints(), registry, TimeProvider.System, "us-east-1", "000000000000");
        var blobs = new BlobStores(new FileBlobStore(Path.Combine(_directory, "spool")), new FileBlobStore(Path.Combine(_directory, "buckets")));
        return new ReceiptRulesService(current, new ReceiptConfigurationStore(current, store), registry, sns, blobs, TimeProvider.System);
    }
}
