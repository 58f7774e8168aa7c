using Inlet.Actions;
using Inlet.Functions;
using Inlet.Mail;
using Inlet.Outbound;
using Inlet.Processing;
using Inlet.Rules;
using Inlet.Smtp;
using Inlet.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Inlet.Api;

/// <summary>Inlet's own HTTP API: health, the message records and their traces, replay, dry runs, the outbox.</summary>
internal static class ApiEndpoints
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 1000;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/health", () => Results.Json(new HealthResponse("ok"), ApiJsonContext.Default.HealthResponse));
        var api = app.MapGroup("/api");
        api.MapGet("/messages", ListMessagesAsync);
        api.MapGet("/messages/{id}", GetMessageAsync);
        api.MapGet("/messages/{id}/raw", GetRawAsync);
        api.MapGet("/messages/{id}/event", GetEventAsync);
        api.MapPost("/messages/{id}/replay", ReplayAsync);
        api.MapPost("/rules/test", TestRulesAsync);
        api.MapGet("/outbox", ListOutboxAsync);
        api.MapGet("/outbox/{id}/raw", GetOutboxRawAsync);
    }

    private static async Task<IResult> ListMessagesAsync(IStateStore state, int? limit, string? nextToken, CancellationToken cancellationToken)
    {
        var size = limit ?? DefaultPageSize;
        if (size is < 1 or > MaxPageSize)
        {
            return Problem(StatusCodes.Status400BadRequest, "InvalidParameterValue", $"limit must be between 1 and {MaxPageSize}");
        }

        if (nextToken is not null && !MessageId.IsValid(nextToken))
        {
            return Problem(StatusCodes.Status400BadRequest, "InvalidParameterValue", "nextToken is not a token returned by this API");
        }

        var page = await state.ListMessagesAsync(size, nextToken, cancellationToken);
        return Results.Json(new MessageListResponse(page.Messages.Select(MessageSummary.From).ToList(), page.NextToken), ApiJsonContext.Default.MessageListResponse);
    }

    private static async Task<IResult> GetMessageAsync(IStateStore state, MessagePipeline pipeline, string id, CancellationToken cancellationToken)
    {
        var message = MessageId.IsValid(id) ? await state.GetMessageAsync(id, cancellationToken) : null;
        if (message is null)
        {
            return NotFound(id);
        }

        SesMail? mail = null;
        try
        {
            var progress = ProcessingJsonContext.ReadProgress(message.Progress);
            var content = await pipeline.LoadContentAsync(message, progress, cancellationToken);
            mail = await MessagePipeline.DescribeAsync(content, message, cancellationToken);
        }
        catch (FileNotFoundException)
        {
            // The record outlived its spool file; show what is known.
        }

        var detail = new MessageDetail(MessageSummary.From(message), mail, ProcessingJsonContext.ReadTrace(message.Trace));
        return Results.Json(detail, ApiJsonContext.Default.MessageDetail);
    }

    private static async Task<IResult> GetRawAsync(IStateStore state, BlobStores blobs, string id, CancellationToken cancellationToken)
    {
        var stream = MessageId.IsValid(id) && await state.MessageExistsAsync(id, cancellationToken)
            ? await blobs.Spool.OpenReadAsync(SmtpBackend.SpoolContainer, MessagePipeline.SpoolKey(id), cancellationToken)
            : null;
        return stream is null ? NotFound(id) : Results.Stream(stream, "message/rfc822");
    }

    /// <summary>
    /// The SES Lambda event of a stored message, exactly as <c>Invoke</c> takes it (see <see cref="StoredEventBuilder"/>
    /// for which action's); <c>?function=</c> picks a function. Which action it is the event of travels in a header,
    /// so that the body is the event and nothing else.
    /// </summary>
    private static async Task<IResult> GetEventAsync(HttpResponse response, IStateStore state, StoredEventBuilder events, string id, string? function, CancellationToken cancellationToken)
    {
        if (function is not null && !FunctionRegistry.TryParseReference(function, out _, out _, out var error))
        {
            return Problem(StatusCodes.Status400BadRequest, "InvalidParameterValue", error!);
        }

        var message = MessageId.IsValid(id) ? await state.GetMessageAsync(id, cancellationToken) : null;
        if (message is null)
        {
            return NotFound(id);
        }

        StoredEvent stored;
        try
        {
            stored = await events.BuildAsync(message, function, cancellationToken);
        }
        catch (FileNotFoundException)
        {
            return Problem(StatusCodes.Status404NotFound, "MessageNotFound", $"Message {id} is recorded but its content is no longer stored");
        }

        response.Headers[EventSourceHeader] = stored.Source;
        return Results.Json(stored.Event, SesJsonContext.Default.SesEvent);
    }

    public const string EventSourceHeader = "X-Inlet-Event-Source";

    /// <summary>Runs a stored message through today's rules, as if it had just arrived.</summary>
    private static async Task<IResult> ReplayAsync(IStateStore state, ReceiptConfigurationProvider configuration, MessageQueue queue, TimeProvider time, string id, CancellationToken cancellationToken)
    {
        var message = MessageId.IsValid(id) ? await state.GetMessageAsync(id, cancellationToken) : null;
        if (message is null)
        {
            return NotFound(id);
        }

        if (MessageStatus.IsUnfinished(message.Status) || message.Status == MessageStatus.Inline)
        {
            return Problem(StatusCodes.Status409Conflict, "MessageBusy", $"Message {id} is {message.Status}; replay it once it has finished");
        }

        var version = configuration.Current.Configuration.Version;
        var trace = ProcessingJsonContext.ReadTrace(message.Trace);
        trace.Add(new TraceEntry { At = time.GetUtcNow(), Kind = "note", Detail = $"replayed under configuration version {version} (it arrived under {message.ConfigVersion}); the entries after this one are the replay's" });
        await state.UpdateMessageAsync(new MessageUpdate(id, MessageStatus.Queued) { Trace = ProcessingJsonContext.WriteTrace(trace), ConfigVersion = version }, cancellationToken);
        queue.Enqueue(id);
        return Results.Json(new ReplayResponse(id, MessageStatus.Queued, version), ApiJsonContext.Default.ReplayResponse, statusCode: StatusCodes.Status202Accepted);
    }

    /// <summary>
    /// A dry run: the message in the request body, the envelope in the query (<c>from</c>, <c>to</c> repeated,
    /// <c>tls</c>). Nothing is stored or executed.
    /// </summary>
    private static async Task<IResult> TestRulesAsync(HttpRequest request, ReceiptConfigurationProvider configuration, MessagePipeline pipeline, SmtpOptions smtp, Inlet.Hosting.InletOptions options, RuleTestGate gate, FunctionRegistry functions, CancellationToken cancellationToken)
    {
        var to = request.Query["to"].Where(t => !string.IsNullOrEmpty(t)).Select(t => t!).ToList();
        var from = request.Query["from"].FirstOrDefault() ?? string.Empty;
        var tls = string.Equals(request.Query["tls"].FirstOrDefault(), "true", StringComparison.OrdinalIgnoreCase);
        if (to.Count == 0)
        {
            return Problem(StatusCodes.Status400BadRequest, "InvalidParameterValue", "name at least one envelope recipient with ?to=");
        }

        if (!await gate.Slots.WaitAsync(0, cancellationToken))
        {
            return Problem(StatusCodes.Status429TooManyRequests, "TooManyRequests", $"{RuleTestGate.MaxConcurrent} dry runs are already running; try again when one has finished");
        }

        // The message goes to a file of the spool folder, never whole into memory; '#' marks it as a partial that
        // start-up removes should the process die before the finally below.
        var spoolFolder = Path.Combine(Path.GetFullPath(options.DataDirectory), SmtpBackend.SpoolContainer);
        Directory.CreateDirectory(spoolFolder);
        var temp = Path.Combine(spoolFolder, "#dry-run-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 64 * 1024, FileOptions.Asynchronous))
            {
                var buffer = new byte[64 * 1024];
                long total = 0;
                int read;
                while ((read = await request.Body.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    total += read;
                    if (total > smtp.MaxMessageSize)
                    {
                        return Problem(StatusCodes.Status413PayloadTooLarge, "MessageTooLarge", $"the message is larger than Smtp.MaxMessageSize ({smtp.MaxMessageSize} octets)");
                    }

                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }

            return await PlanDryRunAsync(temp, from, to, tls, configuration, pipeline, smtp, functions, cancellationToken);
        }
        finally
        {
            File.Delete(temp);
            gate.Slots.Release();
        }
    }

    private static async Task<IResult> PlanDryRunAsync(string file, string from, List<string> to, bool tls, ReceiptConfigurationProvider configuration, MessagePipeline pipeline, SmtpOptions smtp, FunctionRegistry functions, CancellationToken cancellationToken)
    {
        var current = configuration.Current.Configuration;
        var record = new MessageRecord
        {
            Id = MessageId.New(DateTimeOffset.UtcNow),
            ReceivedAt = DateTimeOffset.UtcNow,
            MailFrom = from,
            Recipients = to,
            IsSecure = tls,
            ClientName = "dry-run",
            RemoteAddress = "127.0.0.1",
            ConfigVersion = current.Version,
        };
        var content = await MessageContent.LoadAsync(
            _ => Task.FromResult<Stream?>(new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024, FileOptions.Asynchronous)),
            pipeline.SesHeaders(record), [], cancellationToken);
        if (content.HeaderEnd > smtp.MaxHeaderSize)
        {
            // SMTP refuses such a message while it streams (552 5.3.4); the header section is never parsed.
            return Problem(StatusCodes.Status413PayloadTooLarge, "HeaderTooLarge", $"the header section is larger than Smtp.MaxHeaderSize ({smtp.MaxHeaderSize} octets); a message without an empty line is all header");
        }

        var mail = await MessagePipeline.DescribeAsync(content, record, cancellationToken);

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
        var response = new RuleTestResponse(ruleSet?.Name, current.Version, accepted, unmatched, rules, outcome, mail);
        return Results.Json(response, ApiJsonContext.Default.RuleTestResponse);
    }

    private static (SesReceiptAction Receipt, string Effect) Describe(ReceiptAction action, string messageId, FunctionRegistry functions) => (ReceiptActionFields.For(action, messageId, functions), action switch
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

    private static async Task<IResult> ListOutboxAsync(IStateStore state, int? limit, CancellationToken cancellationToken) =>
        Results.Json(new OutboxResponse(await state.ListOutboxAsync(Math.Clamp(limit ?? DefaultPageSize, 1, MaxPageSize), cancellationToken)), ApiJsonContext.Default.OutboxResponse);

    private static async Task<IResult> GetOutboxRawAsync(BlobStores blobs, string id, CancellationToken cancellationToken)
    {
        var stream = MessageId.IsValid(id) ? await blobs.Spool.OpenReadAsync(BounceSender.OutboxContainer, id + ".eml", cancellationToken) : null;
        return stream is null ? Problem(StatusCodes.Status404NotFound, "MessageNotFound", $"No outbox message with id {id}") : Results.Stream(stream, "message/rfc822");
    }

    private static IResult NotFound(string id) => Problem(StatusCodes.Status404NotFound, "MessageNotFound", $"No message with id {id}");

    internal static IResult Problem(int status, string code, string message) =>
        Results.Json(new ErrorResponse(code, message), ApiJsonContext.Default.ErrorResponse, statusCode: status);
}

/// <summary>Dry runs at the same time: each holds a message file and parses its header section.</summary>
internal sealed class RuleTestGate
{
    public const int MaxConcurrent = 4;

    public SemaphoreSlim Slots { get; } = new(MaxConcurrent, MaxConcurrent);
}
