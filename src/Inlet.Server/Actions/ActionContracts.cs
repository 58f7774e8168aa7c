using Inlet.Authentication;
using Inlet.Mail;
using Inlet.Rules;
using Inlet.Storage;

namespace Inlet.Actions;

internal enum ActionOutcome
{
    /// <summary>Done; go on with the next action.</summary>
    Continue,

    /// <summary>No more actions in this rule (a function's STOP_RULE).</summary>
    StopRule,

    /// <summary>Nothing more at all (the Stop action, a function's STOP_RULE_SET).</summary>
    StopRuleSet,

    /// <summary>Could not be done now; retried with back-off.</summary>
    Failed,

    /// <summary>This action type is not available in Inlet; reported in the trace and passed over.</summary>
    Unsupported,
}

/// <summary>What an action did: an outcome value that the pipeline turns into flow control, a trace entry and, inline, the reply.</summary>
internal sealed record ActionResult(ActionOutcome Outcome)
{
    /// <summary>What the trace shows: the object written, the function's disposition, …</summary>
    public string? Detail { get; init; }

    public string? Error { get; init; }

    /// <summary>A header to append (AddHeader).</summary>
    public AddedHeader? AddHeader { get; init; }

    /// <summary>The AWS calls a function made during a failed attempt, for the trace (a completed step carries its own).</summary>
    public IReadOnlyList<string> Calls { get; init; } = [];

    /// <summary>The message is refused with this reply (Bounce, or a message too large for S3 or SNS): inline, the SMTP reply.</summary>
    public ActionRejection? Rejection { get; init; }

    public static ActionResult Ok(string? detail = null) => new(ActionOutcome.Continue) { Detail = detail };

    public static ActionResult Fail(string error) => new(ActionOutcome.Failed) { Error = error };
}

/// <summary>A refusal of the message: the status of its DSN in async mode, the SMTP reply itself inline (RFC 3463 codes).</summary>
internal sealed record ActionRejection(int Code, string? Status, string Text);

/// <summary>
/// A side effect of an action that is done: the function invoked, the notification published, the DSN submitted. The
/// pipeline saves it in the message's progress as soon as it completes, so that a retry of the action resumes after it
/// and never does it twice.
/// </summary>
internal sealed record CompletedStep(string Name)
{
    /// <summary>What a later attempt needs of it, such as the function's disposition.</summary>
    public string? Value { get; init; }

    public string? Detail { get; init; }

    /// <summary>The trace entry the step gets of its own (<see cref="TraceKind.Notification"/>, <see cref="TraceKind.Bounce"/>), if any.</summary>
    public string? TraceKind { get; init; }

    public string? TraceOutcome { get; init; }

    /// <summary>The AWS calls a function made during the step.</summary>
    public IReadOnlyList<string> Calls { get; init; } = [];
}

/// <summary>Everything an action may look at. The message content and mail object include earlier AddHeader actions.</summary>
internal sealed class ActionContext
{
    public required MessageRecord Message { get; init; }

    public required MessageContent Content { get; init; }

    public required SesMail Mail { get; init; }

    public required Verdicts Verdicts { get; init; }

    public required PlannedRule Rule { get; init; }

    public required int ActionIndex { get; init; }

    public required ProcessingMode Mode { get; init; }

    public required DateTimeOffset Now { get; init; }

    /// <summary>The steps of this action that earlier attempts completed.</summary>
    public IReadOnlyList<CompletedStep> CompletedSteps { get; init; } = [];

    /// <summary>Saves a completed step in the message's progress (and its trace entry) before the action goes on.</summary>
    public required Func<CompletedStep, CancellationToken, Task> RecordStep { get; init; }

    /// <summary>
    /// Takes a commit begun in a step (<see cref="Storage.IBlobWriter.StartCommitAsync"/>) whose outcome the message's
    /// next saved write settles. Where every step is saved as it completes, that save came after the commit, which is
    /// awaited at once; inline, where only the end is written, the pipeline awaits it after writing the end, and a
    /// failure there fails the run.
    /// </summary>
    public Task SettleAsync(Task commit)
    {
        if (SettleAtEnd is { } settle)
        {
            settle(commit);
            return Task.CompletedTask;
        }

        return commit;
    }

    /// <summary>Where commits wait for the end of the run (see <see cref="SettleAsync"/>); null when steps are saved as they complete.</summary>
    public Action<Task>? SettleAtEnd { get; init; }

    /// <summary>The step of that name, if an earlier attempt completed it.</summary>
    public CompletedStep? Completed(string name) => CompletedSteps.FirstOrDefault(s => s.Name == name);

    /// <summary>Runs a step unless an earlier attempt completed it, and records it once it has.</summary>
    public async Task<CompletedStep> StepAsync(string name, Func<CancellationToken, Task<CompletedStep>> run, CancellationToken cancellationToken)
    {
        if (Completed(name) is { } done)
        {
            return done;
        }

        var step = await run(cancellationToken) with { Name = name };
        await RecordStep(step, cancellationToken);
        return step;
    }

    /// <summary>The receipt object for an action, as SES writes it in events and notifications.</summary>
    public SesReceipt CreateReceipt(SesReceiptAction action) => new()
    {
        // In every SES example the receipt timestamp equals the mail timestamp.
        Timestamp = Mail.Timestamp,
        ProcessingTimeMillis = Math.Max(1, (long)(Now - Message.ReceivedAt).TotalMilliseconds),
        Recipients = Rule.Recipients,
        SpamVerdict = Verdicts.Spam,
        VirusVerdict = Verdicts.Virus,
        SpfVerdict = Verdicts.Spf,
        DkimVerdict = Verdicts.Dkim,
        DmarcVerdict = Verdicts.Dmarc,
        DmarcPolicy = Verdicts.DmarcPolicy,
        Action = action,
    };
}

/// <summary>Runs one type of receipt action.</summary>
internal interface IActionHandler
{
    Task<ActionResult> ExecuteAsync(ReceiptAction action, ActionContext context, CancellationToken cancellationToken);
}

/// <summary>Which handler runs which action type.</summary>
internal sealed record ActionRegistration(Type ActionType, IActionHandler Handler);
