using System.Globalization;
using Inlet.Mail;
using Inlet.Rules;

namespace Inlet.Actions;

/// <summary>
/// Bounce: rejects the message to its sender. In async mode a delivery status notification (RFC 3464) goes to the
/// envelope sender; in inline mode the SMTP reply itself carries the refusal. Evaluation goes on: SES's own use case
/// puts a Stop action after a Bounce to end it.
/// </summary>
internal sealed class BounceActionHandler(BounceMessages bounces, ReceiptNotifier notifier) : IActionHandler
{
    public async Task<ActionResult> ExecuteAsync(ReceiptAction action, ActionContext context, CancellationToken cancellationToken)
    {
        var bounce = (BounceReceiptAction)action;
        var code = int.TryParse(bounce.SmtpReplyCode, NumberStyles.None, CultureInfo.InvariantCulture, out var c) && c is >= 400 and < 600 ? c : 550;
        var rejection = new ActionRejection(code, bounce.StatusCode, bounce.Message);
        await bounces.SendAsync(rejection, bounce.Sender, context, cancellationToken);
        await notifier.NotifyAsync(ReceiptActionFields.For(bounce, context.Message.Id), context, cancellationToken);
        return new ActionResult(ActionOutcome.Continue) { Detail = $"bounce {code} {bounce.StatusCode} {bounce.Message}", Rejection = rejection };
    }
}
