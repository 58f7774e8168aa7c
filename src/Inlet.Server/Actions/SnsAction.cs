using System.Text;
using Inlet.Mail;
using Inlet.Notifications;
using Inlet.Rules;

namespace Inlet.Actions;

/// <summary>
/// SNS: publishes the receipt notification with the whole message in <c>content</c> (UTF-8 text, or Base64),
/// <c>receipt.action.encoding</c> written <c>UTF8</c> or <c>BASE64</c> as SES writes it. Messages over 150 KB
/// bounce, as SES documents.
/// </summary>
internal sealed class SnsActionHandler(INotificationPublisher publisher, BounceMessages bounces) : IActionHandler
{
    /// <summary>SES's limit for the SNS action, headers included.</summary>
    public const long MaxMessageSize = 150 * 1024;

    public async Task<ActionResult> ExecuteAsync(ReceiptAction action, ActionContext context, CancellationToken cancellationToken)
    {
        var sns = (SnsReceiptAction)action;
        var receipt = ReceiptActionFields.For(sns, context.Message.Id);
        if (context.Content.Length > MaxMessageSize)
        {
            var rejection = new ActionRejection(552, "5.3.4", "Message too large for the SNS action (150 KB)");
            await bounces.SendAsync(rejection, string.Empty, context, cancellationToken);
            return new ActionResult(ActionOutcome.Continue)
            {
                Detail = $"message of {context.Content.Length} octets is over the SNS action's {MaxMessageSize}: it bounces",
                Rejection = rejection,
            };
        }

        var bytes = await context.Content.ReadAllAsync(cancellationToken);
        var content = sns.Encoding == SnsEncoding.Base64 ? Convert.ToBase64String(bytes) : Encoding.UTF8.GetString(bytes);
        var notification = new SesNotification { Mail = context.Mail, Receipt = context.CreateReceipt(receipt), Content = content };
        var published = await publisher.PublishReceiptAsync(sns.TopicArn, notification, cancellationToken);
        // The notification is the action itself, with the content; there is no second one without it.
        return new ActionResult(ActionOutcome.Continue) { Detail = published.Detail };
    }
}
