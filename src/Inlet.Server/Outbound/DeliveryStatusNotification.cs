using System.Globalization;
using Inlet.Mail;
using MimeKit;

namespace Inlet.Outbound;

/// <summary>Builds delivery status notifications (RFC 3464): a Bounce action's, and SES SendBounce's.</summary>
internal static class DeliveryStatusNotification
{
    /// <summary>The DSN of a Bounce action: every recipient the rule matched, with the action's reply.</summary>
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
        var status = statusCode ?? (replyCode >= 500 ? "5.0.0" : "4.0.0");
        var human = $"Your message could not be delivered to {string.Join(", ", recipients)}.\n\n{replyCode} {status} {text}\n";
        var groups = recipients.Select(r => new DsnRecipient(
            r,
            replyCode >= 500 ? "failed" : "delayed",
            status,
            string.Create(CultureInfo.InvariantCulture, $"smtp; {replyCode} {status} {text}"))).ToList();
        return Create(reportingMta, sender, originalSender, human, arrivalDate, [], groups, originalHeaders);
    }

    /// <summary>A DSN with its human-readable text, per-message fields and per-recipient groups as given.</summary>
    public static MimeMessage Create(
        string reportingMta,
        string sender,
        string originalSender,
        string humanText,
        DateTimeOffset arrivalDate,
        IReadOnlyList<KeyValuePair<string, string>> messageExtensionFields,
        IReadOnlyList<DsnRecipient> recipients,
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

        var human = new TextPart("plain") { Text = humanText };
        var deliveryStatus = new MessageDeliveryStatus();
        var perMessage = new HeaderList
        {
            { "Reporting-MTA", $"dns; {reportingMta}" },
            { "Arrival-Date", MimeKit.Utils.DateUtils.FormatDate(arrivalDate) },
        };
        foreach (var (name, value) in messageExtensionFields)
        {
            perMessage.Add(name, value);
        }

        deliveryStatus.StatusGroups.Add(perMessage);
        foreach (var recipient in recipients)
        {
            var group = new HeaderList
            {
                { "Final-Recipient", $"rfc822; {recipient.FinalRecipient}" },
                { "Action", recipient.Action },
                { "Status", recipient.Status },
            };
            if (recipient.RemoteMta is { } mta)
            {
                group.Add("Remote-MTA", $"dns; {mta}");
            }

            if (recipient.DiagnosticCode is { } diagnostic)
            {
                group.Add("Diagnostic-Code", diagnostic);
            }

            if (recipient.LastAttemptDate is { } last)
            {
                group.Add("Last-Attempt-Date", MimeKit.Utils.DateUtils.FormatDate(last));
            }

            foreach (var (name, value) in recipient.ExtensionFields)
            {
                group.Add(name, value);
            }

            deliveryStatus.StatusGroups.Add(group);
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
