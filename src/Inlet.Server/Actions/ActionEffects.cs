using Inlet.Mail;
using Inlet.Notifications;
using Inlet.Outbound;

namespace Inlet.Actions;

/// <summary>
/// The notification every action with a <c>TopicArn</c> publishes after its own work, with the mail and the action's
/// receipt (no content: only the SNS action sends that). A step of its own, so that a retry after a failed
/// notification does not repeat the action's work.
/// </summary>
internal sealed class ReceiptNotifier(INotificationPublisher publisher)
{
    public const string Step = "notify";

    public async Task NotifyAsync(SesReceiptAction receipt, ActionContext context, CancellationToken cancellationToken)
    {
        if (receipt.TopicArn is not { } topic)
        {
            return;
        }

        await context.StepAsync(Step, async ct =>
        {
            var notification = new SesNotification { Mail = context.Mail, Receipt = context.CreateReceipt(receipt) };
            var published = await publisher.PublishReceiptAsync(topic, notification, ct);
            return new CompletedStep(Step) { Detail = published.Detail, TraceKind = TraceKind.Notification, TraceOutcome = published.Published ? TraceOutcome.Ok : TraceOutcome.NotSent };
        }, cancellationToken);
    }
}

/// <summary>
/// The DSN of a refused message (RFC 3464), sent to its envelope sender through the outbound queue — in async mode
/// only: inline, the refusal is the SMTP reply itself and nobody gets backscatter.
/// </summary>
internal sealed class BounceMessages(BounceSender sender, string hostname)
{
    public const string Step = "dsn";

    public async Task SendAsync(ActionRejection rejection, string bounceSender, ActionContext context, CancellationToken cancellationToken)
    {
        if (context.Mode != ProcessingMode.Async)
        {
            return;
        }

        await context.StepAsync(Step, async ct => new CompletedStep(Step) { Detail = await SendDsnAsync(rejection, bounceSender, context, ct), TraceKind = TraceKind.Bounce }, cancellationToken);
    }

    private async Task<string> SendDsnAsync(ActionRejection rejection, string bounceSender, ActionContext context, CancellationToken cancellationToken)
    {
        if (context.Message.MailFrom.Length == 0)
        {
            return "no bounce message: the message has a null sender (<>)";
        }

        var from = bounceSender.Length > 0 ? bounceSender : $"MAILER-DAEMON@{hostname}";
        var headers = await context.Content.ReadHeaderSectionAsync(cancellationToken);
        var dsn = DeliveryStatusNotification.Create(hostname, from, context.Message.MailFrom, context.Rule.Recipients, rejection.Code, rejection.Status, rejection.Text, context.Message.ReceivedAt, headers);
        return $"bounce from {from} to {context.Message.MailFrom}: " + await sender.SendAsync(dsn, context.Message.MailFrom, context.Message.Id, cancellationToken);
    }
}
