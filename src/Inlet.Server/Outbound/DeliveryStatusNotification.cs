using System.Globalization;
using MimeKit;

namespace Inlet.Outbound;

/// <summary>Builds a delivery status notification (RFC 3464) for a message that a Bounce action rejected.</summary>
internal static class DeliveryStatusNotification
{
    public static MimeMessage Create(
        string reportingMta,
        string sender,
        string originalSender,
        IReadOnlyList<string> recipients,
        int replyCode,
        string? statusCode,
        string text,
        DateTimeOffset arrivalDate,
        byte[] originalHeaders)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(sender));
        message.To.Add(MailboxAddress.Parse(originalSender));
        message.Subject = "Delivery Status Notification (Failure)";
        message.Date = DateTimeOffset.UtcNow;
        message.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId(reportingMta);
        // RFC 3834 §5: a bounce is an automatic response.
        message.Headers.Add("Auto-Submitted", "auto-replied");

        var status = statusCode ?? (replyCode >= 500 ? "5.0.0" : "4.0.0");
        var human = new TextPart("plain")
        {
            Text = $"Your message could not be delivered to {string.Join(", ", recipients)}.\n\n{replyCode} {status} {text}\n",
        };

        var deliveryStatus = new MessageDeliveryStatus();
        var perMessage = new HeaderList
        {
            { "Reporting-MTA", $"dns; {reportingMta}" },
            { "Arrival-Date", MimeKit.Utils.DateUtils.FormatDate(arrivalDate) },
        };
        deliveryStatus.StatusGroups.Add(perMessage);
        foreach (var recipient in recipients)
        {
            deliveryStatus.StatusGroups.Add(new HeaderList
            {
                { "Final-Recipient", $"rfc822; {recipient}" },
                { "Action", replyCode >= 500 ? "failed" : "delayed" },
                { "Status", status },
                { "Diagnostic-Code", string.Create(CultureInfo.InvariantCulture, $"smtp; {replyCode} {status} {text}") },
            });
        }

        var headers = new MimePart("text", "rfc822-headers")
        {
            Content = new MimeContent(new MemoryStream(originalHeaders)),
            ContentTransferEncoding = ContentEncoding.EightBit,
        };

        var report = new MultipartReport("delivery-status") { human, deliveryStatus, headers };
        message.Body = report;
        return message;
    }
}
