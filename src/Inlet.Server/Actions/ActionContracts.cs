using Inlet.Authentication;
using Inlet.Mail;
using Inlet.Rules;
using Inlet.Smtp;
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

/// <summary>What an action did.</summary>
internal sealed record ActionResult(ActionOutcome Outcome)
{
    /// <summary>What the trace shows: the object written, the function's disposition, …</summary>
    public string? Detail { get; init; }

    public string? Error { get; init; }

    /// <summary>The action's fields for <c>receipt.action</c>, for its SNS notification.</summary>
    public SesReceiptAction? Receipt { get; init; }

    /// <summary>A header to append (AddHeader).</summary>
    public AddedHeader? AddHeader { get; init; }

    /// <summary>The AWS calls a function made while the action ran, for the trace.</summary>
    public IReadOnlyList<string> Calls { get; init; } = [];

    /// <summary>The message is to bounce with this reply (Bounce, or a message too large for S3 or SNS).</summary>
    public BounceRequest? Bounce { get; init; }

    public static ActionResult Ok(string? detail = null, SesReceiptAction? receipt = null) => new(ActionOutcome.Continue) { Detail = detail, Receipt = receipt };

    public static ActionResult Fail(string error) => new(ActionOutcome.Failed) { Error = error };
}

/// <summary>A bounce to send: the reply that becomes the DSN's status (or, inline, the SMTP reply itself).</summary>
internal sealed record BounceRequest(SmtpReply Reply, string Sender);

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
