using System.Diagnostics;
using Inlet.Actions;
using Inlet.Authentication;
using Inlet.Mail;
using Inlet.Rules;
using Inlet.Smtp;
using Inlet.Storage;
using Microsoft.Extensions.Logging;

namespace Inlet.Processing;

/// <summary>Where a run of the pipeline left the message.</summary>
internal sealed record PipelineResult(string Status, DateTimeOffset? RetryAt = null, SmtpReply? InlineReply = null);

/// <summary>
/// Applies the receipt rules to one message: the rule set in force when it arrived, its applicable rules in
/// order, each rule's actions in order, with the flow control of SES (Stop and STOP_RULE_SET end everything,
/// STOP_RULE ends the rule). Progress is saved after every action and after every completed step of an action, so a
/// message resumes where it stopped after a retry wait or a restart, and a retried action does not repeat a side
/// effect that already happened. A failed action is retried with back-off; the actions after it wait, so their order
/// is kept. Past the retry window the action is given up, recorded, and evaluation goes on.
/// </summary>
internal sealed partial class MessagePipeline(
    IMessageStore state,
    ReceivedMessages messages,
    ReceiptConfigurationStore configurations,
    IEnumerable<ActionRegistration> handlers,
    MessageAuthenticator authenticator,
    ProcessingOptions options,
    TimeProvider time,
    ILogger<MessagePipeline> logger)
{
    private readonly Dictionary<Type, IActionHandler> _handlers = handlers.ToDictionary(h => h.ActionType, h => h.Handler);

    /// <summary>What one run of the pipeline carries from step to step; saved as the message's progress and trace.</summary>
    private sealed class MessageRun
    {
        public required MessageRecord Message { get; init; }

        public required ProcessingMode Mode { get; init; }

        public required IReadOnlyList<PlannedRule> Plan { get; init; }

        public required List<TraceEntry> Trace { get; init; }

        public required ProcessingProgress Progress
        {
            get => _progress;
            set
            {
                _progress = value;
                Unrecorded?.Progress = value;
            }
        }

        private ProcessingProgress _progress = new();

        public required MessageContent Content { get; set; }

        public required SesMail Mail { get; set; }

        public string? Subject => Mail.CommonHeaders.Subject;

        /// <summary>The status saved while the run goes on.</summary>
        public string Status => Mode == ProcessingMode.Inline ? MessageStatus.Inline : MessageStatus.Processing;

        /// <summary>
        /// Whether progress is saved on the way. Inline, nothing is acknowledged until the run ends, and a run cut
        /// short is never resumed: the message is marked rejected and the client sends it again. Only the end is saved.
        /// </summary>
        public bool SavesProgress => Mode == ProcessingMode.Async;

        /// <summary>Commits that the end's write settles, awaited after it (see <see cref="ActionContext.SettleAsync"/>).</summary>
        public List<Task> SettledAtEnd { get; } = [];

        /// <summary>An inline message whose record the end writes (instead of changing it), and which follows the run's progress; null in async mode.</summary>
        public required UnrecordedMessage? Unrecorded { get; init; }
    }

    /// <summary>How one action's attempt ends for the rule loop.</summary>
    private enum Next
    {
        NextAction,
        EndRule,
        EndRuleSet,
        Return,
    }

    public async Task<PipelineResult> RunAsync(MessageRecord message, ProcessingMode mode, CancellationToken cancellationToken) =>
        await RunAsync(message, mode, null, cancellationToken);

    /// <summary>An inline run of a message that is not recorded yet: its end writes the record, with its data if it is in memory.</summary>
    public async Task<PipelineResult> RunAsync(UnrecordedMessage message, CancellationToken cancellationToken)
    {
        using (messages.Track(message))
        {
            return await RunAsync(message.Received, ProcessingMode.Inline, message, cancellationToken);
        }
    }

    private async Task<PipelineResult> RunAsync(MessageRecord message, ProcessingMode mode, UnrecordedMessage? unrecorded, CancellationToken cancellationToken)
    {
        var run = await BeginAsync(message, mode, unrecorded, cancellationToken);
        string? endedBy = null;
        var plan = run.Plan;
        for (var r = run.Progress.Rule; r < plan.Count && endedBy is null; r++)
        {
            var planned = plan[r];
            if (run.Progress is { Action: 0, Attempts: 0, Steps.Count: 0 })
            {
                run.Trace.Add(new TraceEntry { At = time.GetUtcNow(), Kind = TraceKind.Rule, Rule = planned.Rule.Name, Recipients = planned.Recipients });
            }

            for (var a = run.Progress.Action; a < planned.Rule.Actions.Length; a++)
            {
                var (next, result, detail) = await RunActionAsync(run, r, a, cancellationToken);
                if (next == Next.Return)
                {
                    return result!;
                }

                if (next == Next.EndRule)
                {
                    break;
                }

                if (next == Next.EndRuleSet)
                {
                    endedBy = detail;
                    break;
                }
            }

            run.Progress = run.Progress with { Rule = r + 1, Action = 0 };
        }

        return await FinishAsync(run, endedBy, cancellationToken);
    }

    /// <summary>
    /// Reads where the message stands, and on its first run records what it was received under and computes its
    /// verdicts (once: a retry or a restart reads the saved ones back, and headers added by actions never change them).
    /// </summary>
    private async Task<MessageRun> BeginAsync(MessageRecord message, ProcessingMode mode, UnrecordedMessage? unrecorded, CancellationToken cancellationToken)
    {
        var progress = ProcessingJsonContext.ReadProgress(message.Progress);
        var trace = MessageTrace.Read(message.Trace);
        if (unrecorded is not null)
        {
            unrecorded.Trace = trace;
        }

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

        // Every reader of this run (the verdicts, the header section, the actions) shares one read of the spool.
        var spool = messages.OpenForRun(message);
        if (progress.Authentication is null)
        {
            var scan = plan.Any(p => p.Rule.ScanEnabled);
            var envelope = new Envelope(message.Id, message.MailFrom, message.RemoteAddress, message.ClientName);
            var authentication = await authenticator.AuthenticateAsync(envelope, spool, scan, cancellationToken);
            progress = progress with { Authentication = authentication };
            trace.Add(new TraceEntry { At = time.GetUtcNow(), Kind = TraceKind.Verdicts, Detail = string.Join("; ", authentication.Notes) });
        }

        // Nothing is saved before the first action: a message that stops here starts again from the beginning.
        // Every save is an fsync, so saves are made where resuming needs them and no more.
        var content = await messages.LoadContentAsync(message, progress, spool, cancellationToken);
        var mail = await ReceivedMessages.DescribeAsync(content, message, cancellationToken);
        // Unrecorded first: setting the progress passes it on.
        return new MessageRun { Unrecorded = unrecorded, Message = message, Mode = mode, Plan = plan, Trace = trace, Progress = progress, Content = content, Mail = mail };
    }

    /// <summary>One attempt of action <paramref name="a"/> of planned rule <paramref name="r"/>, and what it means for the loop.</summary>
    private async Task<(Next Next, PipelineResult? Result, string? EndedBy)> RunActionAsync(MessageRun run, int r, int a, CancellationToken cancellationToken)
    {
        var planned = run.Plan[r];
        var action = planned.Rule.Actions[a];
        var verdicts = run.Progress.Authentication!.Verdicts;
        run.Progress = run.Progress with { Rule = r, Action = a };
        var context = new ActionContext
        {
            Message = run.Message,
            Content = run.Content,
            Mail = run.Mail,
            // SES reports spam and virus DISABLED for a rule that does not have ScanEnabled.
            Verdicts = planned.Rule.ScanEnabled ? verdicts : verdicts.WithoutScan(),
            Rule = planned,
            ActionIndex = a,
            Mode = run.Mode,
            Now = time.GetUtcNow(),
            CompletedSteps = run.Progress.Steps,
            RecordStep = (step, ct) => RecordStepAsync(run, planned, a, action, step, ct),
            SettleAtEnd = run.SavesProgress ? null : run.SettledAtEnd.Add,
        };
        var started = Stopwatch.GetTimestamp();
        var result = await ExecuteAsync(action, context, cancellationToken);
        var duration = Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 3);
        InletMetrics.ActionsRun.Add(1, new("type", action.Type), new("outcome", result.Outcome.ToString()));
        AddCalls(run, planned, a, action, result.Calls);

        if (result.Outcome == ActionOutcome.Failed)
        {
            return await FailedAsync(run, r, a, result, duration, cancellationToken);
        }

        run.Trace.Add(ActionEntry(planned, a, action, OutcomeText(result.Outcome), duration, result));
        if (result.AddHeader is { } header)
        {
            run.Progress = run.Progress with { AddedHeaders = [.. run.Progress.AddedHeaders, header] };
            run.Content = run.Content.WithAppended(run.Progress.AddedHeaders);
            run.Mail = await ReceivedMessages.DescribeAsync(run.Content, run.Message, cancellationToken);
        }

        if (result.Rejection is { } rejection && run.Mode == ProcessingMode.Inline && run.Progress.BounceReply is null)
        {
            run.Progress = run.Progress with { BounceReply = new SmtpReply(rejection.Code, rejection.Status, rejection.Text).ToString() };
        }

        run.Progress = run.Progress with { Action = a + 1, Steps = [], Attempts = 0, FirstFailureAt = null };
        var lastStep = result.Outcome == ActionOutcome.StopRuleSet
            || (r == run.Plan.Count - 1 && (a == planned.Rule.Actions.Length - 1 || result.Outcome == ActionOutcome.StopRule));
        if (!lastStep && run.SavesProgress)
        {
            // The final save records the last step together with the end.
            await SaveAsync(run, run.Status, null, cancellationToken);
        }

        return result.Outcome switch
        {
            ActionOutcome.StopRule => (Next.EndRule, null, null),
            ActionOutcome.StopRuleSet => (Next.EndRuleSet, null, $"{action.Type} action {a + 1} of rule {planned.Rule.Name}: {result.Detail}"),
            _ => (Next.NextAction, null, null),
        };
    }

    /// <summary>
    /// A failed attempt. Inline, the client is told to try again. Async, the action is retried with back-off — its
    /// completed steps stay in the progress, so the retry resumes after them — until the retry window is over.
    /// </summary>
    private async Task<(Next, PipelineResult?, string?)> FailedAsync(MessageRun run, int r, int a, ActionResult result, double duration, CancellationToken cancellationToken)
    {
        var planned = run.Plan[r];
        var action = planned.Rule.Actions[a];
        var now = time.GetUtcNow();
        InletMetrics.ActionsFailed.Add(1, new KeyValuePair<string, object?>("type", action.Type));
        if (run.Mode == ProcessingMode.Inline)
        {
            run.Trace.Add(ActionEntry(planned, a, action, TraceOutcome.Failed, duration, result));
            run.Trace.Add(new TraceEntry { At = time.GetUtcNow(), Kind = TraceKind.End, Detail = "inline processing stopped: an action failed; the client was told to try again (451)" });
            await SaveAsync(run, MessageStatus.Rejected, null, cancellationToken);
            return (Next.Return, new PipelineResult(MessageStatus.Rejected, InlineReply: new SmtpReply(451, "4.3.0", $"Action {a + 1} ({action.Type}) of rule {planned.Rule.Name} failed; try again later")), null);
        }

        var attempts = run.Progress.Attempts + 1;
        var firstFailure = run.Progress.FirstFailureAt ?? now;
        if (now - firstFailure >= options.RetryMaxAge)
        {
            InletMetrics.ActionsExpired.Add(1, new KeyValuePair<string, object?>("type", action.Type));
            run.Trace.Add(ActionEntry(planned, a, action, TraceOutcome.Expired, duration, result) with
            {
                Detail = $"gave up after {attempts} attempts over {(now - firstFailure).TotalMinutes:F0} minutes; evaluation goes on",
            });
            LogActionExpired(logger, run.Message.Id, action.Type, planned.Rule.Name, result.Error);
            run.Progress = run.Progress with { Action = a + 1, Steps = [], Attempts = 0, FirstFailureAt = null, AnyExpired = true };
            await SaveAsync(run, run.Status, null, cancellationToken);
            return (Next.NextAction, null, null);
        }

        var retryAt = now + options.DelayFor(attempts);
        run.Trace.Add(ActionEntry(planned, a, action, TraceOutcome.Retrying, duration, result) with
        {
            Detail = $"attempt {attempts} failed; next attempt at {WireTime.IsoMilliseconds(retryAt)}",
        });
        LogActionFailed(logger, run.Message.Id, action.Type, planned.Rule.Name, attempts, result.Error);
        run.Progress = run.Progress with { Attempts = attempts, FirstFailureAt = firstFailure };
        await SaveAsync(run, MessageStatus.Retrying, retryAt, cancellationToken);
        return (Next.Return, new PipelineResult(MessageStatus.Retrying, retryAt), null);
    }

    private async Task<PipelineResult> FinishAsync(MessageRun run, string? endedBy, CancellationToken cancellationToken)
    {
        run.Trace.Add(new TraceEntry
        {
            At = time.GetUtcNow(),
            Kind = TraceKind.End,
            Detail = endedBy is not null ? $"rule set evaluation ended by {endedBy}" : "every applicable rule ran",
        });
        var inline = run.Mode == ProcessingMode.Inline;
        var final = run.Progress.BounceReply is not null && inline ? MessageStatus.Bounced
            : run.Progress.AnyExpired ? MessageStatus.Failed
            : MessageStatus.Processed;
        run.Progress = run.Progress with { Finished = true };
        await SaveAsync(run, final, null, cancellationToken);
        await Task.WhenAll(run.SettledAtEnd);
        SmtpReply? reply = null;
        if (inline)
        {
            reply = final == MessageStatus.Bounced ? ParseReply(run.Progress.BounceReply!) : SmtpReply.Accepted(run.Message.Id);
        }

        return new PipelineResult(final, InlineReply: reply);
    }

    /// <summary>Runs the action's handler; a failure of any of its steps fails the action.</summary>
    private async Task<ActionResult> ExecuteAsync(ReceiptAction action, ActionContext context, CancellationToken cancellationToken)
    {
        if (!_handlers.TryGetValue(action.GetType(), out var handler))
        {
            return new ActionResult(ActionOutcome.Unsupported)
            {
                Detail = $"{action.MemberName} is not supported by this version of Inlet; the action was passed over",
            };
        }

        try
        {
            return await handler.ExecuteAsync(action, context, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return ActionResult.Fail($"{e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>A step of the current action is done: into the trace, and into the saved progress before anything else happens.</summary>
    private async Task RecordStepAsync(MessageRun run, PlannedRule planned, int a, ReceiptAction action, CompletedStep step, CancellationToken cancellationToken)
    {
        AddCalls(run, planned, a, action, step.Calls);
        if (step.TraceKind is { } kind)
        {
            run.Trace.Add(new TraceEntry { At = time.GetUtcNow(), Kind = kind, Rule = planned.Rule.Name, Action = a, Outcome = step.TraceOutcome, Detail = step.Detail });
        }

        // The calls are in the trace now; the saved step needs only what a retry reads.
        run.Progress = run.Progress with { Steps = [.. run.Progress.Steps, step with { Calls = [] }] };
        if (run.SavesProgress)
        {
            await SaveAsync(run, run.Status, null, cancellationToken);
        }
    }

    /// <summary>What a function did through the AWS APIs while the action ran, in the order it did it.</summary>
    private void AddCalls(MessageRun run, PlannedRule planned, int a, ReceiptAction action, IReadOnlyList<string> calls)
    {
        foreach (var call in calls)
        {
            run.Trace.Add(new TraceEntry { At = time.GetUtcNow(), Kind = TraceKind.AwsCall, Rule = planned.Rule.Name, Action = a, ActionType = action.Type, Detail = call });
        }
    }

    private static string OutcomeText(ActionOutcome outcome) => outcome switch
    {
        ActionOutcome.StopRule => TraceOutcome.StopRule,
        ActionOutcome.StopRuleSet => TraceOutcome.StopRuleSet,
        ActionOutcome.Unsupported => TraceOutcome.Unsupported,
        _ => TraceOutcome.Ok,
    };

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

    private async Task SaveAsync(MessageRun run, string status, DateTimeOffset? nextAttempt, CancellationToken cancellationToken)
    {
        if (run.Unrecorded is { IsRecorded: false } unrecorded)
        {
            await unrecorded.RecordAsync(run.Message with
            {
                Status = status,
                Subject = run.Subject,
                Progress = ProcessingJsonContext.WriteProgress(run.Progress),
                Trace = MessageTrace.Write(run.Trace),
                NextAttemptAt = nextAttempt,
            });
            return;
        }

        var update = new MessageUpdate(run.Message.Id, status)
        {
            Subject = run.Subject,
            Progress = ProcessingJsonContext.WriteProgress(run.Progress),
            Trace = MessageTrace.Write(run.Trace),
            NextAttemptAt = nextAttempt,
        };
        if (!await state.UpdateMessageAsync(update, cancellationToken))
        {
            // This node's lease ran out (it was stalled past it) and another node goes on with the message.
            throw new WorkLeaseLostException(run.Message.Id);
        }
    }

    /// <summary>Records an inline message whose run was cut short as rejected, with what its run did and the reason in its trace.</summary>
    public async Task RejectAsync(UnrecordedMessage message, string reason)
    {
        if (message.IsRecorded)
        {
            await RejectAsync(message.Received, reason, CancellationToken.None);
            return;
        }

        List<TraceEntry> trace = [.. message.Trace, new TraceEntry { At = time.GetUtcNow(), Kind = TraceKind.End, Detail = reason }];
        await message.RecordAsync(message.Received with { Status = MessageStatus.Rejected, Trace = MessageTrace.Write(trace) });
    }

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
