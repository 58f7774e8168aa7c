using System.Diagnostics;
using Inlet.Actions;
using Inlet.Authentication;
using Inlet.Mail;
using Inlet.Notifications;
using Inlet.Outbound;
using Inlet.Rules;
using Inlet.Smtp;
using Inlet.Storage;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace Inlet.Processing;

/// <summary>Where a run of the pipeline left the message.</summary>
internal sealed record PipelineResult(string Status, DateTimeOffset? RetryAt = null, SmtpReply? InlineReply = null);

/// <summary>
/// Applies the receipt rules to one message: the rule set in force when it arrived, its applicable rules in
/// order, each rule's actions in order, with the flow control of SES (Stop and STOP_RULE_SET end everything,
/// STOP_RULE ends the rule). Progress is saved after every action, so a message resumes where it stopped after a
/// retry wait or a restart. A failed action is retried with back-off; the actions after it wait, so their order
/// is kept. Past the retry window the action is given up, recorded, and evaluation goes on.
/// </summary>
internal sealed partial class MessagePipeline(
    IStateStore state,
    ReceivedMessages messages,
    ReceiptConfigurationStore configurations,
    IEnumerable<ActionRegistration> handlers,
    INotificationPublisher notifications,
    BounceSender bounces,
    MessageAuthenticator authenticator,
    ProcessingOptions options,
    SmtpOptions smtp,
    TimeProvider time,
    ILogger<MessagePipeline> logger)
{
    private readonly Dictionary<Type, IActionHandler> _handlers = handlers.ToDictionary(h => h.ActionType, h => h.Handler);

    public async Task<PipelineResult> RunAsync(MessageRecord message, ProcessingMode mode, CancellationToken cancellationToken)
    {
        var progress = ProcessingJsonContext.ReadProgress(message.Progress);
        var trace = MessageTrace.Read(message.Trace);
        var configuration = await configurations.GetAsync(message.ConfigVersion, cancellationToken);
        var ruleSet = configuration.ActiveRuleSet;
        var plan = RuleEvaluator.Plan(ruleSet, message.Recipients, message.IsSecure);
        if (progress is { Rule: 0, Action: 0, Attempts: 0 } && !trace.Any(t => t.Kind == TraceKind.Received))
        {
            trace.Add(new TraceEntry
            {
                At = time.GetUtcNow(),
                Kind = TraceKind.Received,
                Recipients = message.Recipients,
                Detail = ruleSet is null
                    ? $"no rule set was active (configuration version {configuration.Version})"
                    : $"rule set {ruleSet.Name} (configuration version {configuration.Version}): {plan.Count} of {ruleSet.Rules.Length} rule(s) apply",
            });
        }

        if (progress.Authentication is null)
        {
            // Once per message, from the message as received: a retry or a restart reads the saved verdicts back, and
            // headers added by actions never change them.
            var scan = plan.Any(p => p.Rule.ScanEnabled);
            var envelope = new Envelope(message.Id, message.MailFrom, message.RemoteAddress, message.ClientName);
            var authentication = await authenticator.AuthenticateAsync(envelope, ct => messages.OpenReceivedAsync(message, ct), scan, cancellationToken);
            progress = progress with { Authentication = authentication };
            trace.Add(new TraceEntry { At = time.GetUtcNow(), Kind = TraceKind.Verdicts, Detail = string.Join("; ", authentication.Notes) });
        }

        var verdicts = progress.Authentication.Verdicts;
        var content = await messages.LoadContentAsync(message, progress, cancellationToken);
        var mail = await ReceivedMessages.DescribeAsync(content, message, cancellationToken);
        var subject = mail.CommonHeaders.Subject;
        // Nothing is saved before the first action: a message that stops here starts again from the beginning.
        // Every save is an fsync, so saves are made where resuming needs them and no more.
        var status = mode == ProcessingMode.Inline ? MessageStatus.Inline : MessageStatus.Processing;

        string? endedBy = null;
        for (var r = progress.Rule; r < plan.Count && endedBy is null; r++)
        {
            var planned = plan[r];
            if (progress.Action == 0 && progress.Attempts == 0)
            {
                trace.Add(new TraceEntry { At = time.GetUtcNow(), Kind = TraceKind.Rule, Rule = planned.Rule.Name, Recipients = planned.Recipients });
            }

            for (var a = progress.Action; a < planned.Rule.Actions.Length; a++)
            {
                var action = planned.Rule.Actions[a];
                var now = time.GetUtcNow();
                var context = new ActionContext
                {
                    Message = message,
                    Content = content,
                    Mail = mail,
                    // SES reports spam and virus DISABLED for a rule that does not have ScanEnabled.
                    Verdicts = planned.Rule.ScanEnabled ? verdicts : verdicts.WithoutScan(),
                    Rule = planned,
                    ActionIndex = a,
                    Mode = mode,
                    Now = now,
                };
                var started = Stopwatch.GetTimestamp();
                var result = await ExecuteAsync(action, context, trace, cancellationToken);
                var duration = Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 3);
                InletMetrics.ActionsRun.Add(1, new("type", action.Type), new("outcome", result.Outcome.ToString()));

                if (result.Outcome == ActionOutcome.Failed)
                {
                    now = time.GetUtcNow();
                    InletMetrics.ActionsFailed.Add(1, new KeyValuePair<string, object?>("type", action.Type));
                    if (mode == ProcessingMode.Inline)
                    {
                        trace.Add(ActionEntry(planned, a, action, TraceOutcome.Failed, duration, result));
                        trace.Add(new TraceEntry { At = time.GetUtcNow(), Kind = TraceKind.End, Detail = "inline processing stopped: an action failed; the client was told to try again (451)" });
                        await SaveAsync(message.Id, MessageStatus.Rejected, subject, progress with { Rule = r, Action = a }, trace, null, cancellationToken);
                        return new PipelineResult(MessageStatus.Rejected, InlineReply: new SmtpReply(451, "4.3.0", $"Action {a + 1} ({action.Type}) of rule {planned.Rule.Name} failed; try again later"));
                    }

                    var attempts = progress.Attempts + 1;
                    var firstFailure = progress.FirstFailureAt ?? now;
                    if (now - firstFailure >= options.RetryMaxAge)
                    {
                        InletMetrics.ActionsExpired.Add(1, new KeyValuePair<string, object?>("type", action.Type));
                        trace.Add(ActionEntry(planned, a, action, TraceOutcome.Expired, duration, result) with
                        {
                            Detail = $"gave up after {attempts} attempts over {(now - firstFailure).TotalMinutes:F0} minutes; evaluation goes on",
                        });
                        LogActionExpired(logger, message.Id, action.Type, planned.Rule.Name, result.Error);
                        progress = progress with { Rule = r, Action = a + 1, Attempts = 0, FirstFailureAt = null, AnyExpired = true };
                        await SaveAsync(message.Id, status, subject, progress, trace, null, cancellationToken);
                        continue;
                    }

                    var retryAt = now + options.DelayFor(attempts);
                    trace.Add(ActionEntry(planned, a, action, TraceOutcome.Retrying, duration, result) with
                    {
                        Detail = $"attempt {attempts} failed; next attempt at {SesMailBuilder.FormatTimestamp(retryAt)}",
                    });
                    LogActionFailed(logger, message.Id, action.Type, planned.Rule.Name, attempts, result.Error);
                    progress = progress with { Rule = r, Action = a, Attempts = attempts, FirstFailureAt = firstFailure };
                    await SaveAsync(message.Id, MessageStatus.Retrying, subject, progress, trace, retryAt, cancellationToken);
                    return new PipelineResult(MessageStatus.Retrying, retryAt);
                }

                var outcome = result.Outcome switch
                {
                    ActionOutcome.StopRule => TraceOutcome.StopRule,
                    ActionOutcome.StopRuleSet => TraceOutcome.StopRuleSet,
                    ActionOutcome.Unsupported => TraceOutcome.Unsupported,
                    _ => TraceOutcome.Ok,
                };
                trace.Add(ActionEntry(planned, a, action, outcome, duration, result));
                if (result.AddHeader is { } header)
                {
                    progress = progress with { AddedHeaders = [.. progress.AddedHeaders, header] };
                    content = content.WithAppended(progress.AddedHeaders);
                    mail = await ReceivedMessages.DescribeAsync(content, message, cancellationToken);
                }

                if (result.Bounce is { } bounce && mode == ProcessingMode.Inline && progress.BounceReply is null)
                {
                    progress = progress with { BounceReply = bounce.Reply.ToString() };
                }

                progress = progress with { Rule = r, Action = a + 1, Attempts = 0, FirstFailureAt = null };
                var lastStep = result.Outcome == ActionOutcome.StopRuleSet
                    || (r == plan.Count - 1 && (a == planned.Rule.Actions.Length - 1 || result.Outcome == ActionOutcome.StopRule));
                if (!lastStep)
                {
                    // The final save below records the last step together with the end.
                    await SaveAsync(message.Id, status, subject, progress, trace, null, cancellationToken);
                }

                if (result.Outcome == ActionOutcome.StopRule)
                {
                    break;
                }

                if (result.Outcome == ActionOutcome.StopRuleSet)
                {
                    endedBy = $"{action.Type} action {a + 1} of rule {planned.Rule.Name}: {result.Detail}";
                    break;
                }
            }

            progress = progress with { Rule = r + 1, Action = 0 };
        }

        trace.Add(new TraceEntry
        {
            At = time.GetUtcNow(),
            Kind = TraceKind.End,
            Detail = endedBy is not null ? $"rule set evaluation ended by {endedBy}" : "every applicable rule ran",
        });
        var final = progress.BounceReply is not null && mode == ProcessingMode.Inline ? MessageStatus.Bounced
            : progress.AnyExpired ? MessageStatus.Failed
            : MessageStatus.Processed;
        await SaveAsync(message.Id, final, subject, progress with { Finished = true }, trace, null, cancellationToken);
        SmtpReply? reply = null;
        if (mode == ProcessingMode.Inline)
        {
            reply = final == MessageStatus.Bounced ? ParseReply(progress.BounceReply!) : SmtpReply.Accepted(message.Id);
        }

        return new PipelineResult(final, InlineReply: reply);
    }

    /// <summary>Runs the action's handler, then its bounce and its notification; a failure of any of them fails the action.</summary>
    private async Task<ActionResult> ExecuteAsync(ReceiptAction action, ActionContext context, List<TraceEntry> trace, CancellationToken cancellationToken)
    {
        try
        {
            if (!_handlers.TryGetValue(action.GetType(), out var handler))
            {
                return new ActionResult(ActionOutcome.Unsupported)
                {
                    Detail = $"{action.MemberName} is not supported by this version of Inlet; the action was passed over",
                };
            }

            var result = await handler.ExecuteAsync(action, context, cancellationToken);
            foreach (var call in result.Calls)
            {
                // What a function did through the AWS APIs while the action ran, in the order it did it.
                trace.Add(new TraceEntry { At = time.GetUtcNow(), Kind = TraceKind.AwsCall, Rule = context.Rule.Rule.Name, Action = context.ActionIndex, ActionType = action.Type, Detail = call });
            }

            if (result.Outcome == ActionOutcome.Failed)
            {
                return result;
            }

            if (result.Bounce is { } bounce && context.Mode == ProcessingMode.Async)
            {
                trace.Add(new TraceEntry { At = time.GetUtcNow(), Kind = TraceKind.Bounce, Rule = context.Rule.Rule.Name, Action = context.ActionIndex, Detail = await SendBounceAsync(bounce, context, cancellationToken) });
            }

            if (result.Receipt is { TopicArn: { } topic } receipt)
            {
                var notification = new SesNotification { Mail = context.Mail, Receipt = context.CreateReceipt(receipt) };
                var published = await notifications.PublishReceiptAsync(topic, notification, cancellationToken);
                trace.Add(new TraceEntry { At = time.GetUtcNow(), Kind = TraceKind.Notification, Rule = context.Rule.Rule.Name, Action = context.ActionIndex, Outcome = published.Published ? TraceOutcome.Ok : TraceOutcome.NotSent, Detail = published.Detail });
            }

            return result;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return ActionResult.Fail($"{e.GetType().Name}: {e.Message}");
        }
    }

    private async Task<string> SendBounceAsync(BounceRequest bounce, ActionContext context, CancellationToken cancellationToken)
    {
        if (context.Message.MailFrom.Length == 0)
        {
            return "no bounce message: the message has a null sender (<>)";
        }

        var sender = bounce.Sender.Length > 0 ? bounce.Sender : $"MAILER-DAEMON@{smtp.Hostname}";
        var headers = await context.Content.ReadHeaderSectionAsync(cancellationToken);
        var dsn = DeliveryStatusNotification.Create(smtp.Hostname, sender, context.Message.MailFrom, context.Rule.Recipients, bounce.Reply.Code, bounce.Reply.Status, bounce.Reply.Text, context.Message.ReceivedAt, headers);
        return $"bounce from {sender} to {context.Message.MailFrom}: " + await bounces.SendAsync(dsn, context.Message.MailFrom, context.Message.Id, cancellationToken);
    }

    private TraceEntry ActionEntry(PlannedRule rule, int index, ReceiptAction action, string outcome, double duration, ActionResult result) => new()
    {
        At = time.GetUtcNow(),
        Kind = TraceKind.Action,
        Rule = rule.Rule.Name,
        Action = index,
        ActionType = action.Type,
        Outcome = outcome,
        DurationMs = duration,
        Detail = result.Detail,
        Error = result.Error,
    };

    private static SmtpReply ParseReply(string text)
    {
        // "550 5.1.1 text" as written by SmtpReply.ToString().
        var parts = text.Split(' ', 3);
        var code = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
        return parts.Length == 3 && parts[1].Length > 0 && char.IsDigit(parts[1][0]) && parts[1].Contains('.')
            ? new SmtpReply(code, parts[1], parts[2])
            : new SmtpReply(code, null, text[(parts[0].Length + 1)..]);
    }

    private Task SaveAsync(string id, string status, string? subject, ProcessingProgress progress, List<TraceEntry> trace, DateTimeOffset? nextAttempt, CancellationToken cancellationToken) =>
        state.UpdateMessageAsync(
            new MessageUpdate(id, status)
            {
                Subject = subject,
                Progress = ProcessingJsonContext.WriteProgress(progress),
                Trace = MessageTrace.Write(trace),
                NextAttemptAt = nextAttempt,
            },
            cancellationToken);

    /// <summary>Marks a message that was never acknowledged (inline mode) as rejected, with the reason in its trace.</summary>
    public async Task RejectAsync(MessageRecord message, string reason, CancellationToken cancellationToken)
    {
        var current = await state.GetMessageAsync(message.Id, cancellationToken) ?? message;
        var trace = MessageTrace.Read(current.Trace);
        trace.Add(new TraceEntry { At = time.GetUtcNow(), Kind = TraceKind.End, Detail = reason });
        await state.UpdateMessageAsync(new MessageUpdate(message.Id, MessageStatus.Rejected) { Progress = current.Progress, Trace = MessageTrace.Write(trace) }, cancellationToken);
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Warning, Message = "Message {Id}: {Type} action of rule {Rule} failed (attempt {Attempt}): {Error}")]
    private static partial void LogActionFailed(ILogger logger, string id, string type, string rule, int attempt, string? error);

    [LoggerMessage(EventId = 301, Level = LogLevel.Error, Message = "Message {Id}: {Type} action of rule {Rule} gave up after the retry window: {Error}")]
    private static partial void LogActionExpired(ILogger logger, string id, string type, string rule, string? error);
}
