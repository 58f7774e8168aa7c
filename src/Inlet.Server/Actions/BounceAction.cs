using System.Globalization;
using Inlet.Mail;
using Inlet.Rules;
using Inlet.Smtp;

namespace Inlet.Actions;

/// <summary>
/// Bounce: rejects the message to its sender. In async mode a delivery status notification (RFC 3464) goes to the
/// envelope sender; in inline mode the SMTP reply itself carries the refusal. Evaluation goes on: SES's own use case
/// puts a Stop action after a Bounce to end it.
/// </summary>
internal sealed class BounceActionHandler : IActionHandler
{
    public Task<ActionResult> ExecuteAsync(ReceiptAction action, ActionContext context, CancellationToken cancellationToken)
    {
        var bounce = (BounceReceiptAction)action;
        var code = int.TryParse(bounce.SmtpReplyCode, NumberStyles.None, CultureInfo.InvariantCulture, out var c) && c is >= 400 and < 600 ? c : 550;
        return Task.FromResult(new ActionResult(ActionOutcome.Continue)
        {
            Detail = $"bounce {code} {bounce.StatusCode} {bounce.Message}",
            Receipt = ReceiptActionFields.For(bounce, context.Message.Id),
            Bounce = new BounceRequest(new SmtpReply(code, bounce.StatusCode, bounce.Message), bounce.Sender),
        });
    }
}
