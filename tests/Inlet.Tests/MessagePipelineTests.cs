using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Inlet.Actions;
using Inlet.Authentication;
using Inlet.Mail;
using Inlet.Notifications;
using Inlet.Processing;
using Inlet.Rules;
using Inlet.Smtp;
using Inlet.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace Inlet.Tests;

/// <summary>
/// The pipeline with fake handlers, a temp-file SQLite store and a temp-folder spool: flow control, retries that resume
/// after the last completed step, inline and async modes, and the configuration version a message is held to.
/// </summary>
public sealed class MessagePipelineTests : IAsyncLifetime
{
    private const string Topic = "arn:aws:sns:us-east-1:000000000000:mail";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "inlet-pipeline-" + Guid.NewGuid().ToString("N"));
    private readonly FlakyPublisher _publisher = new();
    private readonly FakeFunction _function;
    private SqliteStateStore _state = null!;
    private BlobStores _blobs = null!;
    private CountingSpool _spool = null!;
    private ReceiptConfigurationProvider _current = null!;
    private ReceiptConfigurationStore _configurations = null!;

    public MessagePipelineTests()
    {
        _function = new FakeFunction(new ReceiptNotifier(_publisher));
    }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        _state = new SqliteStateStore(Path.Combine(_directory, "inlet.db"), "test-node");
        await _state.InitializeAsync(CancellationToken.None);
        _blobs = new BlobStores(_spool = new CountingSpool(new FileBlobStore(_directory)), new FileBlobStore(Path.Combine(_directory, "buckets")));
        _current = new ReceiptConfigurationProvider(ReceiptConfiguration.Empty);
        _configurations = new ReceiptConfigurationStore(_current, _state);
    }

    public async Task DisposeAsync()
    {
        await _state.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Run_StopRuleDisposition_EndsTheRuleButNotTheRuleSet()
    {
        _function.Disposition = Disposition.StopRule;
        await ActivateAsync(Rule("first", new LambdaReceiptAction("fn"), Header("X-First")), Rule("second", Header("X-Second")));

        var (result, progress, _) = await RunAsync(await ReceiveAsync());

        Assert.Equal(MessageStatus.Processed, result.Status);
        Assert.Equal(["X-Second"], progress.AddedHeaders.Select(h => h.Name));
    }

    [Fact]
    public async Task Run_StopRuleSetDisposition_EndsEverything()
    {
        _function.Disposition = Disposition.StopRuleSet;
        await ActivateAsync(Rule("first", new LambdaReceiptAction("fn"), Header("X-First")), Rule("second", Header("X-Second")));

        var (result, progress, trace) = await RunAsync(await ReceiveAsync());

        Assert.Equal(MessageStatus.Processed, result.Status);
        Assert.Empty(progress.AddedHeaders);
        Assert.Contains("rule set evaluation ended by Lambda action 1 of rule first", trace[^1].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_StopAction_EndsEverythingAndNotifiesItsTopic()
    {
        await ActivateAsync(Rule("first", Header("X-First"), new StopReceiptAction(TopicArn: Topic)), Rule("second", Header("X-Second")));

        var (result, progress, trace) = await RunAsync(await ReceiveAsync());

        Assert.Equal(MessageStatus.Processed, result.Status);
        Assert.Equal(["X-First"], progress.AddedHeaders.Select(h => h.Name));
        Assert.Equal(1, _publisher.Published);
        Assert.Single(trace, t => t.Kind == TraceKind.Notification);
    }

    [Fact]
    public async Task Run_NotificationFails_RetryResumesAfterTheInvocationAndInvokesOnce()
    {
        // The topic is gone for the first attempt (deleted, say) and back for the second.
        _publisher.FailuresLeft = 1;
        await ActivateAsync(Rule("first", new LambdaReceiptAction("fn", LambdaInvocationType.RequestResponse, Topic), Header("X-After")));
        var id = await ReceiveAsync();

        var (first, progress, _) = await RunAsync(id);
        Assert.Equal(MessageStatus.Retrying, first.Status);
        Assert.Equal(1, _function.Invocations);
        Assert.Equal([FakeFunction.Step], progress.Steps.Select(s => s.Name));

        var (second, after, trace) = await RunAsync(id);
        Assert.Equal(MessageStatus.Processed, second.Status);
        Assert.Equal(1, _function.Invocations);
        Assert.Equal(1, _publisher.Published);
        Assert.Empty(after.Steps);
        Assert.Equal(["X-After"], after.AddedHeaders.Select(h => h.Name));
        Assert.Equal([TraceOutcome.Retrying, TraceOutcome.Ok, TraceOutcome.Ok], trace.Where(t => t.Kind == TraceKind.Action).Select(t => t.Outcome));
    }

    [Fact]
    public async Task Run_ActionFailsBeforeAnyStep_RetriesTheWholeAction()
    {
        _function.FailuresLeft = 1;
        await ActivateAsync(Rule("first", new LambdaReceiptAction("fn")));
        var id = await ReceiveAsync();

        Assert.Equal(MessageStatus.Retrying, (await RunAsync(id)).Result.Status);
        Assert.Equal(0, _function.Invocations);
        Assert.Equal(MessageStatus.Processed, (await RunAsync(id)).Result.Status);
        Assert.Equal(1, _function.Invocations);
    }

    [Fact]
    public async Task Run_InlineRejection_IsTheSmtpReply_AsyncIsNot()
    {
        await ActivateAsync(Rule("first", new BounceReceiptAction("550", "no such user", "postmaster@example.com", "5.1.1")));

        var inline = await RunAsync(await ReceiveAsync(), ProcessingMode.Inline);
        Assert.Equal(MessageStatus.Bounced, inline.Result.Status);
        Assert.Equal("550 5.1.1 no such user", inline.Result.InlineReply!.ToString());

        var async = await RunAsync(await ReceiveAsync(), ProcessingMode.Async);
        Assert.Equal(MessageStatus.Processed, async.Result.Status);
        Assert.Null(async.Result.InlineReply);
    }

    [Fact]
    public async Task Run_InlineFailure_Is451AndRejected()
    {
        _function.FailuresLeft = 1;
        await ActivateAsync(Rule("first", new LambdaReceiptAction("fn")));

        var (result, _, _) = await RunAsync(await ReceiveAsync(), ProcessingMode.Inline);

        Assert.Equal(MessageStatus.Rejected, result.Status);
        Assert.Equal(451, result.InlineReply!.Code);
    }

    [Fact]
    public async Task Run_ConfigurationChangedAfterArrival_UsesTheVersionTheMessageArrivedUnder()
    {
        await ActivateAsync(Rule("old", Header("X-Old")));
        var id = await ReceiveAsync();
        await ActivateAsync(Rule("new", Header("X-New")));

        var (_, progress, trace) = await RunAsync(id);

        Assert.Equal(["X-Old"], progress.AddedHeaders.Select(h => h.Name));
        Assert.Contains("configuration version 1", trace[0].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SmtpTransaction_ConfigurationChangesBetweenRcptAndCommit_RecordsThePinnedVersion()
    {
        await ActivateAsync(Rule("old", Header("X-Old")));
        var backend = new SmtpBackend(_current, _blobs, _state, new MessageProcessor(_state, Pipeline(), new ProcessingOptions(), new StateOptions(), TimeProvider.System, NullLogger<MessageProcessor>.Instance), Pipeline(), new SmtpOptions(), TimeProvider.System, NullLogger<SmtpBackend>.Instance);
        var client = new SmtpClientInfo(new IPEndPoint(IPAddress.Loopback, 5000), "client.test", false);

        var transaction = backend.BeginTransaction();
        Assert.Null(transaction.CheckRecipient("user@example.com", client));
        var pinned = _current.Current.Configuration.Version;
        await _configurations.SaveAsync(ReceiptConfiguration.Empty with { Version = pinned }, CancellationToken.None);
        // A second recipient of the same transaction is still judged by the pinned version, which accepted it.
        Assert.Null(transaction.CheckRecipient("other@example.com", client));

        await using var writer = await backend.BeginMessageAsync(CancellationToken.None);
        await writer.WriteAsync(Encoding.ASCII.GetBytes("Subject: hi\r\n\r\nbody\r\n"), CancellationToken.None);
        var reply = await writer.CommitAsync(new SmtpEnvelope("sender@example.net", ["user@example.com"], null, "client.test", false, null, false, "7BIT", DateTimeOffset.UtcNow, transaction), CancellationToken.None);

        Assert.Equal(250, reply.Code);
        var id = reply.Text.Split(' ').Last(MessageId.IsValid);
        Assert.Equal(pinned, (await _state.GetMessageAsync(id, CancellationToken.None))!.ConfigVersion);
        Assert.NotNull(backend.BeginTransaction().CheckRecipient("user@example.com", client));
    }

    [Fact]
    public async Task Run_SeveralReadersOfTheMessage_ReadTheSpoolOnce()
    {
        await ActivateAsync(Rule("tag", Header("X-One"), new LambdaReceiptAction("fn"), Header("X-Two")), Rule("later", Header("X-Three")));
        var id = await ReceiveAsync();
        var before = _spool.Reads;

        var (result, progress, _) = await RunAsync(id);

        Assert.Equal(MessageStatus.Processed, result.Status);
        Assert.Equal(["X-One", "X-Two", "X-Three"], progress.AddedHeaders.Select(h => h.Name));
        // The header section is read again after each AddHeader and the function gets the message: from one read.
        Assert.Equal(1, _spool.Reads - before);
    }

    private static AddHeaderReceiptAction Header(string name) => new(name, "yes");

    /// <summary>The spool, counting how often a message is opened for reading.</summary>
    private sealed class CountingSpool(FileBlobStore files) : IBlobStore
    {
        private int _reads;

        public int Reads => _reads;

        public Task<Stream?> OpenReadAsync(string container, string key, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            return files.OpenReadAsync(container, key, cancellationToken);
        }

        public Task<bool> ContainerExistsAsync(string container, CancellationToken cancellationToken) => files.ContainerExistsAsync(container, cancellationToken);

        public Task CreateContainerAsync(string container, CancellationToken cancellationToken) => files.CreateContainerAsync(container, cancellationToken);

        public Task<bool> DeleteContainerAsync(string container, CancellationToken cancellationToken) => files.DeleteContainerAsync(container, cancellationToken);

        public IAsyncEnumerable<ContainerInfo> ListContainersAsync(CancellationToken cancellationToken) => files.ListContainersAsync(cancellationToken);

        public Task<string?> GetPolicyAsync(string container, CancellationToken cancellationToken) => files.GetPolicyAsync(container, cancellationToken);

        public Task PutPolicyAsync(string container, string policy, CancellationToken cancellationToken) => files.PutPolicyAsync(container, policy, cancellationToken);

        public Task DeletePolicyAsync(string container, CancellationToken cancellationToken) => files.DeletePolicyAsync(container, cancellationToken);

        public Task<IBlobWriter> CreateAsync(string container, string key, CancellationToken cancellationToken) => files.CreateAsync(container, key, cancellationToken);

        public Task<BlobInfo?> GetInfoAsync(string container, string key, CancellationToken cancellationToken) => files.GetInfoAsync(container, key, cancellationToken);

        public Task DeleteAsync(string container, string key, CancellationToken cancellationToken) => files.DeleteAsync(container, key, cancellationToken);

        public IAsyncEnumerable<BlobInfo> ListAsync(string container, CancellationToken cancellationToken) => files.ListAsync(container, cancellationToken);
    }

    private static ReceiptRule Rule(string name, params ReceiptAction[] actions) =>
        new() { Name = name, Enabled = true, Actions = [.. actions] };

    private Task ActivateAsync(params ReceiptRule[] rules) => _configurations.SaveAsync(
        new ReceiptConfiguration { RuleSets = [new ReceiptRuleSet { Name = "main", Rules = [.. rules] }], ActiveRuleSetName = "main", Version = _current.Current.Configuration.Version },
        CancellationToken.None);

    private MessagePipeline Pipeline()
    {
        var authenticator = new MessageAuthenticator(new AuthenticationOptions(), new NoDns(), PublicSuffixList.Load(null), "test", NullLogger<MessageAuthenticator>.Instance);
        var notifier = new ReceiptNotifier(_publisher);
        ActionRegistration[] handlers =
        [
            new(typeof(LambdaReceiptAction), _function),
            new(typeof(AddHeaderReceiptAction), new AddHeaderActionHandler()),
            new(typeof(StopReceiptAction), new StopActionHandler(notifier)),
            new(typeof(BounceReceiptAction), new RejectingBounce()),
        ];
        return new MessagePipeline(_state, new ReceivedMessages(_blobs, new SmtpOptions()), _configurations, handlers, authenticator, new ProcessingOptions(), TimeProvider.System, NullLogger<MessagePipeline>.Instance);
    }

    /// <summary>A message as the SMTP side leaves it: spooled, recorded, its verdicts already known (no DNS here).</summary>
    private async Task<string> ReceiveAsync()
    {
        var now = DateTimeOffset.UtcNow;
        var id = MessageId.New(now);
        await using (var blob = await _blobs.Spool.CreateAsync(SmtpBackend.SpoolContainer, ReceivedMessages.SpoolKey(id), CancellationToken.None))
        {
            await blob.Stream.WriteAsync(Encoding.ASCII.GetBytes("From: a@example.net\r\nSubject: test\r\n\r\nhello\r\n"));
            await blob.CommitAsync(CancellationToken.None);
        }

        var progress = new ProcessingProgress { Authentication = new AuthenticationRecord(Verdicts.NotComputed, [], []) };
        await _state.InsertMessageAsync(new MessageRecord
        {
            Id = id,
            ReceivedAt = now,
            MailFrom = "a@example.net",
            Recipients = ["user@example.com"],
            BodyType = "7BIT",
            ConfigVersion = _current.Current.Configuration.Version,
            Status = MessageStatus.Queued,
        }, null, CancellationToken.None);
        await _state.UpdateMessageAsync(new MessageUpdate(id, MessageStatus.Queued) { Progress = ProcessingJsonContext.WriteProgress(progress) }, CancellationToken.None);
        return id;
    }

    private async Task<(PipelineResult Result, ProcessingProgress Progress, List<TraceEntry> Trace)> RunAsync(string id, ProcessingMode mode = ProcessingMode.Async)
    {
        var record = (await _state.GetMessageAsync(id, CancellationToken.None))!;
        var result = await Pipeline().RunAsync(record, mode, CancellationToken.None);
        var saved = (await _state.GetMessageAsync(id, CancellationToken.None))!;
        return (result, ProcessingJsonContext.ReadProgress(saved.Progress), MessageTrace.Read(saved.Trace));
    }

    /// <summary>A function: the invocation is a step, then the action's TopicArn is notified, as the Lambda action does.</summary>
    private sealed class FakeFunction(ReceiptNotifier notifier) : IActionHandler
    {
        public const string Step = "invoke";

        public string Disposition { get; set; } = Core.Disposition.Continue;

        public int Invocations { get; private set; }

        /// <summary>Attempts that fail before the function runs (throttled, say).</summary>
        public int FailuresLeft { get; set; }

        public async Task<ActionResult> ExecuteAsync(ReceiptAction action, ActionContext context, CancellationToken cancellationToken)
        {
            if (FailuresLeft > 0)
            {
                FailuresLeft--;
                return ActionResult.Fail("TooManyRequestsException: throttled");
            }

            var invoked = await context.StepAsync(Step, _ =>
            {
                Invocations++;
                return Task.FromResult(new CompletedStep(Step) { Value = Disposition });
            }, cancellationToken);
            await notifier.NotifyAsync(ReceiptActionFields.For(action, context.Message.Id), context, cancellationToken);
            return new ActionResult(invoked.Value switch
            {
                Core.Disposition.StopRule => ActionOutcome.StopRule,
                Core.Disposition.StopRuleSet => ActionOutcome.StopRuleSet,
                _ => ActionOutcome.Continue,
            })
            { Detail = $"disposition {invoked.Value}" };
        }
    }

    /// <summary>A Bounce without its DSN: the refusal only.</summary>
    private sealed class RejectingBounce : IActionHandler
    {
        public Task<ActionResult> ExecuteAsync(ReceiptAction action, ActionContext context, CancellationToken cancellationToken)
        {
            var bounce = (BounceReceiptAction)action;
            return Task.FromResult(new ActionResult(ActionOutcome.Continue) { Rejection = new ActionRejection(int.Parse(bounce.SmtpReplyCode, System.Globalization.CultureInfo.InvariantCulture), bounce.StatusCode, bounce.Message) });
        }
    }

    /// <summary>A topic that refuses the first <see cref="FailuresLeft"/> notifications, as a deleted topic does.</summary>
    private sealed class FlakyPublisher : INotificationPublisher
    {
        public int FailuresLeft { get; set; }

        public int Published { get; private set; }

        public Task<PublishResult> PublishReceiptAsync(string topicArn, SesNotification notification, CancellationToken cancellationToken)
        {
            if (FailuresLeft > 0)
            {
                FailuresLeft--;
                throw new InvalidOperationException($"SNS topic {topicArn} does not exist");
            }

            Published++;
            return Task.FromResult(new PublishResult(true, $"published to {topicArn}"));
        }
    }

    private sealed class NoDns : IDnsResolver
    {
        public Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<DnsAnswer<IPAddress>> AddressesAsync(string name, AddressFamily family, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<DnsAnswer<string>> MxAsync(string name, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
