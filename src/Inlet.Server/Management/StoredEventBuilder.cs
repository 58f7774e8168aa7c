using Inlet.Actions;
using Inlet.Functions;
using Inlet.Mail;
using Inlet.Processing;
using Inlet.Rules;
using Inlet.Storage;

namespace Inlet.Management;

/// <summary>The Lambda event for a stored message, and which action of which rule it is the event of.</summary>
internal sealed record StoredEvent(SesEvent Event, string Source);

/// <summary>
/// Rebuilds the SES event a function got (or would get) for a stored message, from the same pieces the pipeline
/// uses: the message record, its rule set version, its trace and the headers AddHeader actions added. The event of
/// an action that ran is the one the function received, with <c>processingTimeMillis</c> taken from the trace (the
/// action's end minus its duration, so it may differ by a millisecond). When no Lambda action ran for the message
/// (or none of the named function), the receipt is that of a Lambda action of the named function — or of the
/// placeholder <c>Example</c>, as <c>sam local generate-event</c> has it — with invocation type Event, SES's default.
/// </summary>
internal sealed class StoredEventBuilder(ReceivedMessages messages, ReceiptConfigurationStore configurations, FunctionRegistry functions, AwsAccount options)
{
    public const string PlaceholderFunction = "Example";

    public async Task<StoredEvent> BuildAsync(MessageRecord message, string? function, CancellationToken cancellationToken)
    {
        var configuration = await configurations.GetAsync(message.ConfigVersion, cancellationToken);
        var plan = RuleEvaluator.Plan(configuration.ActiveRuleSet, message.Recipients, message.IsSecure);
        var progress = ProcessingJsonContext.ReadProgress(message.Progress);
        var trace = MessageTrace.Read(message.Trace);
        // A replay leaves a note and runs again; the entries after the last note are the latest run's, the one
        // the stored progress (and its added headers) belongs to.
        var run = trace.Skip(trace.FindLastIndex(t => t.Kind == TraceKind.Note) + 1).ToList();

        var addedBefore = 0;
        foreach (var entry in run.Where(t => t.Kind == TraceKind.Action))
        {
            if (entry.ActionType == "AddHeader" && entry.Outcome == TraceOutcome.Ok)
            {
                addedBefore++;
                continue;
            }

            if (entry.ActionType != "Lambda"
                || plan.FirstOrDefault(p => p.Rule.Name == entry.Rule) is not { } planned
                || entry.Action is not { } index || index >= planned.Rule.Actions.Length
                || planned.Rule.Actions[index] is not LambdaReceiptAction lambda
                || (function is not null && !SameFunction(lambda.FunctionArn, function)))
            {
                continue;
            }

            var started = entry.At - TimeSpan.FromMilliseconds(entry.DurationMs ?? 0);
            var context = await ContextAsync(message, progress with { AddedHeaders = [.. progress.AddedHeaders.Take(addedBefore)] }, planned, index, started, cancellationToken);
            return new StoredEvent(
                LambdaActionHandler.CreateEvent(ReceiptActionFields.For(lambda, message.Id, functions), context),
                $"the event of Lambda action {index + 1} of rule {planned.Rule.Name} ({lambda.FunctionArn}), as it ran");
        }

        // Nothing ran that fits: the receipt of the first applicable rule (or of every envelope recipient when no
        // rule applies) with a Lambda action added, the message as it stands now.
        var rule = plan.Count > 0 ? plan[0] : new PlannedRule(0, new ReceiptRule { Name = "none" }, message.Recipients);
        var name = function ?? PlaceholderFunction;
        var arn = name.StartsWith("arn:", StringComparison.Ordinal) ? name : FunctionDefinition.ArnFor(options.Region, options.AccountId, name);
        var now = run.Count > 0 ? run[^1].At : message.ReceivedAt;
        var synthetic = await ContextAsync(message, progress, rule, 0, now, cancellationToken);
        var receipt = ReceiptActionFields.For(new LambdaReceiptAction(arn), message.Id);
        return new StoredEvent(
            LambdaActionHandler.CreateEvent(receipt, synthetic),
            function is null
                ? $"no Lambda action ran for this message: the receipt names the placeholder function {arn}"
                : $"no Lambda action of {function} ran for this message: the receipt is that of a Lambda action of {arn}");
    }

    /// <param name="progress">The saved progress, with the added headers the action saw.</param>
    private async Task<ActionContext> ContextAsync(MessageRecord message, ProcessingProgress progress, PlannedRule rule, int index, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var content = await messages.LoadContentAsync(message, progress, cancellationToken);
        var mail = await ReceivedMessages.DescribeAsync(content, message, cancellationToken);
        // The verdicts the message got, saved once; a message not yet processed has none to report.
        var verdicts = progress.Authentication?.Verdicts ?? Inlet.Authentication.Verdicts.NotComputed;
        return new ActionContext
        {
            Message = message,
            Content = content,
            Mail = mail,
            Verdicts = verdicts,
            Rule = rule,
            ActionIndex = index,
            Mode = ProcessingMode.Async,
            Now = now,
            // Only read, never run: no step completes here.
            RecordStep = (_, _) => Task.CompletedTask,
        };
    }

    private static bool SameFunction(string reference, string function) =>
        FunctionRegistry.TryParseReference(reference, out var a, out _, out _)
        && FunctionRegistry.TryParseReference(function, out var b, out _, out _)
        && a == b;
}
