using Inlet.Actions;
using Inlet.Functions;
using Inlet.Mail;
using Inlet.Outbound;
using Inlet.Processing;
using Inlet.Rules;
using Inlet.Smtp;
using Inlet.Storage;

namespace Inlet.Management;

/// <summary>Why a message operation was refused; the Api turns it into its status code, the CLI into its message.</summary>
internal enum MessageRefusal
{
    InvalidParameter,
    NotFound,
    Busy,
    TooLarge,

    /// <summary>Too many of these at once; try again when one has finished.</summary>
    TooMany,
}

internal sealed class MessageOperationException(MessageRefusal refusal, string code, string message) : Exception(message)
{
    public MessageRefusal Refusal { get; } = refusal;

    public string Code { get; } = code;
}

/// <summary>
/// The message records and what can be done with them: list, show (with the mail object as actions see it now and the
/// trace), the raw message, the Lambda event a function got, replay through today's rules, a dry run of the rules over
/// a message that is not stored, and the outbox.
/// </summary>
internal sealed class MessageService(
    IMessageStore state,
    IOutboxStore outbox,
    BlobStores blobs,
    ReceivedMessages messages,
    StoredEventBuilder events,
    ReceiptConfigurationProvider configuration,
    MessageProcessor processor,
    FunctionRegistry functions,
    SmtpOptions smtp,
    TimeProvider time)
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 1000;

    /// <summary>Newest first, a page at a time; a non-empty filter narrows the list by substrings and status.</summary>
    public async Task<MessageListResponse> ListAsync(int? limit, string? nextToken, MessageFilter filter, CancellationToken cancellationToken)
    {
        var size = limit ?? DefaultPageSize;
        if (size is < 1 or > MaxPageSize)
        {
            throw Invalid($"limit must be between 1 and {MaxPageSize}");
        }

        if (nextToken is not null && !MessageId.IsValid(nextToken))
        {
            throw Invalid("nextToken is not a token returned by this API");
        }

        var page = filter == new MessageFilter()
            ? await state.ListMessagesAsync(size, nextToken, cancellationToken)
            : await state.SearchMessagesAsync(filter, size, nextToken, cancellationToken);
        return new MessageListResponse(page.Messages.Select(MessageSummary.From).ToList(), page.NextToken);
    }

    /// <summary>A stored message's bytes exactly as received (nothing SES or an action added), or null when gone.</summary>
    public static Task<Stream?> OpenReceivedAsync(BlobStores blobs, string id, CancellationToken cancellationToken) =>
        blobs.Spool.OpenReadAsync(SmtpBackend.SpoolContainer, ReceivedMessages.SpoolKey(id), cancellationToken);

    public async Task<MessageDetail> GetAsync(string id, CancellationToken cancellationToken)
    {
        var message = await FindAsync(id, cancellationToken);
        SesMail? mail = null;
        try
        {
            var progress = ProcessingJsonContext.ReadProgress(message.Progress);
            var content = await messages.LoadContentAsync(message, progress, cancellationToken);
            mail = await ReceivedMessages.DescribeAsync(content, message, cancellationToken);
        }
        catch (FileNotFoundException)
        {
            // The record outlived its spool file; show what is known.
        }

        return new MessageDetail(MessageSummary.From(message), mail, MessageTrace.Read(message.Trace));
    }

    /// <summary>The message exactly as received.</summary>
    public async Task<Stream> OpenRawAsync(string id, CancellationToken cancellationToken)
    {
        var stream = MessageId.IsValid(id) && await state.MessageExistsAsync(id, cancellationToken)
            ? await blobs.Spool.OpenReadAsync(SmtpBackend.SpoolContainer, ReceivedMessages.SpoolKey(id), cancellationToken)
            : null;
        return stream ?? throw NotFound(id);
    }

    /// <summary>The SES Lambda event of a stored message (see <see cref="StoredEventBuilder"/> for which action's).</summary>
    public async Task<StoredEvent> GetEventAsync(string id, string? function, CancellationToken cancellationToken)
    {
        if (function is not null && !FunctionRegistry.TryParseReference(function, out _, out _, out var error))
        {
            throw Invalid(error!);
        }

        var message = await FindAsync(id, cancellationToken);
        try
        {
            return await events.BuildAsync(message, function, cancellationToken);
        }
        catch (FileNotFoundException)
        {
            throw new MessageOperationException(MessageRefusal.NotFound, "MessageNotFound", $"Message {id} is recorded but its content is no longer stored");
        }
    }

    /// <summary>Runs a stored message through today's rules, as if it had just arrived.</summary>
    public async Task<ReplayResponse> ReplayAsync(string id, CancellationToken cancellationToken)
    {
        var message = await FindAsync(id, cancellationToken);
        if (MessageStatus.IsUnfinished(message.Status) || message.Status == MessageStatus.Inline)
        {
            throw new MessageOperationException(MessageRefusal.Busy, "MessageBusy", $"Message {id} is {message.Status}; replay it once it has finished");
        }

        var version = configuration.Current.Configuration.Version;
        var trace = MessageTrace.Read(message.Trace);
        trace.Add(new TraceEntry { At = time.GetUtcNow(), Kind = TraceKind.Note, Detail = $"replayed under configuration version {version} (it arrived under {message.ConfigVersion}); the entries after this one are the replay's" });
        if (!await state.UpdateMessageAsync(new MessageUpdate(id, MessageStatus.Queued) { Trace = MessageTrace.Write(trace), ConfigVersion = version }, cancellationToken))
        {
            throw new MessageOperationException(MessageRefusal.Busy, "MessageBusy", $"Message {id} is being processed by another node; replay it once it has finished");
        }

        processor.Wake();
        return new ReplayResponse(id, MessageStatus.Queued, version);
    }

    /// <summary>A dry run: which rules and actions would run for this message and envelope. Nothing is stored or executed.</summary>
    /// <summary>At most this many dry runs at once: each holds a message of up to Smtp.MaxMessageSize.</summary>
    public const int MaxConcurrentDryRuns = 4;

    private readonly SemaphoreSlim _dryRuns = new(MaxConcurrentDryRuns, MaxConcurrentDryRuns);

    /// <summary>
    /// A dry run: which rules and actions would run for the message, and the mail object they would see. The message
    /// streams to a temporary file (never whole into memory) within Smtp.MaxMessageSize, and its header section is held
    /// to Smtp.MaxHeaderSize as SMTP holds it.
    /// </summary>
    public async Task<RuleTestResponse> TestRulesAsync(Stream body, string from, IReadOnlyList<string> to, bool tls, CancellationToken cancellationToken)
    {
        if (to.Count == 0)
        {
            throw Invalid("name at least one envelope recipient with ?to=");
        }

        if (!await _dryRuns.WaitAsync(0, cancellationToken))
        {
            throw new MessageOperationException(MessageRefusal.TooMany, "TooManyRequests", $"{MaxConcurrentDryRuns} dry runs are already running; try again when one has finished");
        }

        // The message goes to a file of the spool folder, never whole into memory; '#' marks it as a partial that
        // start-up removes should the process die before the finally below.
        var folder = BlobStores.FilesOf(blobs.Spool) is { } files ? Path.Combine(files.Root, SmtpBackend.SpoolContainer) : Path.GetTempPath();
        Directory.CreateDirectory(folder);
        var temp = Path.Combine(folder, "#dry-run-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 64 * 1024, FileOptions.Asynchronous))
            {
                var buffer = new byte[64 * 1024];
                long total = 0;
                int read;
                while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    total += read;
                    if (total > smtp.MaxMessageSize)
                    {
                        throw new MessageOperationException(MessageRefusal.TooLarge, "MessageTooLarge", $"the message is larger than Smtp.MaxMessageSize ({smtp.MaxMessageSize} octets)");
                    }

                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }

            return await PlanDryRunAsync(temp, from, to, tls, cancellationToken);
        }
        finally
        {
            File.Delete(temp);
            _dryRuns.Release();
        }
    }

    private async Task<RuleTestResponse> PlanDryRunAsync(string file, string from, IReadOnlyList<string> to, bool tls, CancellationToken cancellationToken)
    {
        var current = configuration.Current.Configuration;
        var now = time.GetUtcNow();
        var record = new MessageRecord
        {
            Id = MessageId.New(now),
            ReceivedAt = now,
            MailFrom = from,
            Recipients = to,
            IsSecure = tls,
            ClientName = "dry-run",
            RemoteAddress = "127.0.0.1",
            ConfigVersion = current.Version,
        };
        var content = await MessageContent.LoadAsync(
            _ => Task.FromResult<Stream?>(new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024, FileOptions.Asynchronous)),
            messages.SesHeaders(record), [], cancellationToken);
        if (content.HeaderEnd > smtp.MaxHeaderSize)
        {
            // SMTP refuses such a message while it streams (552 5.3.4); the header section is never parsed.
            throw new MessageOperationException(MessageRefusal.TooLarge, "HeaderTooLarge", $"the header section is larger than Smtp.MaxHeaderSize ({smtp.MaxHeaderSize} octets); a message without an empty line after its header fields is all header");
        }

        var mail = await ReceivedMessages.DescribeAsync(content, record, cancellationToken);

        var ruleSet = current.ActiveRuleSet;
        var accepted = to.Where(r => RecipientAcceptance.Decide(ruleSet, r, tls) == RecipientDecision.Accept).ToList();
        var plan = RuleEvaluator.Plan(ruleSet, accepted, tls);
        var rules = new List<RuleTestRule>();
        var outcome = plan.Count == 0 ? "no rule applies" : "every applicable rule would run";
        foreach (var planned in plan)
        {
            var actions = new List<RuleTestAction>();
            var stops = false;
            for (var i = 0; i < planned.Rule.Actions.Length; i++)
            {
                var action = planned.Rule.Actions[i];
                var (receipt, effect) = Describe(action, record.Id, functions);
                actions.Add(new RuleTestAction(i, action.Type, receipt, effect));
                if (action is StopReceiptAction)
                {
                    stops = true;
                    outcome = $"rule {planned.Rule.Name} ends the evaluation with its Stop action {i + 1}";
                    break;
                }
            }

            rules.Add(new RuleTestRule(planned.Rule.Name, planned.Recipients, actions));
            if (stops)
            {
                break;
            }
        }

        var unmatched = to.Except(accepted).ToList();
        return new RuleTestResponse(ruleSet?.Name, current.Version, accepted, unmatched, rules, outcome, mail);
    }

    /// <summary>An action's receipt fields and, in words, what it would do (the dry run and the console's rules page).</summary>
    /// <summary>An action of the configuration in force as a rule listing shows it: its SES fields (no message yet) and its effect.</summary>
    public (SesReceiptAction Receipt, string Effect) Describe(ReceiptAction action) => Describe(action, string.Empty, functions);

    internal static (SesReceiptAction Receipt, string Effect) Describe(ReceiptAction action, string messageId, FunctionRegistry functions) => (ReceiptActionFields.For(action, messageId, functions), action switch
    {
        S3ReceiptAction s3 => $"store the message in bucket {s3.BucketName}",
        BounceReceiptAction b => $"bounce with {b.SmtpReplyCode} {b.StatusCode} {b.Message}",
        LambdaReceiptAction l => l.InvocationType == LambdaInvocationType.RequestResponse ? "invoke the function and wait: its disposition may stop the rule or the rule set" : "invoke the function without waiting",
        SnsReceiptAction n => $"publish the message to {n.TopicArn}",
        StopReceiptAction => "stop: no further actions or rules",
        AddHeaderReceiptAction h => $"add the header {h.HeaderName}: {h.HeaderValue}",
        WorkmailReceiptAction => "WorkMail is not supported by Inlet: passed over",
        _ => "unknown",
    });

    public async Task<OutboxResponse> ListOutboxAsync(int? limit, CancellationToken cancellationToken) =>
        new(await outbox.ListOutboxAsync(Math.Clamp(limit ?? DefaultPageSize, 1, MaxPageSize), cancellationToken));

    public async Task<Stream> OpenOutboxRawAsync(string id, CancellationToken cancellationToken)
    {
        var stream = MessageId.IsValid(id) ? await blobs.Spool.OpenReadAsync(BounceSender.OutboxContainer, id + ".eml", cancellationToken) : null;
        return stream ?? throw new MessageOperationException(MessageRefusal.NotFound, "MessageNotFound", $"No outbox message with id {id}");
    }

    private async Task<MessageRecord> FindAsync(string id, CancellationToken cancellationToken) =>
        (MessageId.IsValid(id) ? await state.GetMessageAsync(id, cancellationToken) : null) ?? throw NotFound(id);

    private static MessageOperationException NotFound(string id) => new(MessageRefusal.NotFound, "MessageNotFound", $"No message with id {id}");

    private static MessageOperationException Invalid(string message) => new(MessageRefusal.InvalidParameter, "InvalidParameterValue", message);
}
