using System.Globalization;
using System.Text;
using Inlet.Mail;
using Inlet.Smtp;
using Inlet.Storage;
using MimeKit;

namespace Inlet.Outbound;

/// <summary>A refusal of a sending request, with SES's code (each API writes it in its own error shape).</summary>
internal sealed class SesSendingException(string code, string message) : Exception(message)
{
    public const string InvalidParameterValue = "InvalidParameterValue";
    public const string MessageRejected = "MessageRejected";
    public const string NotFound = "NotFound";
    public const string AlreadyExists = "AlreadyExists";

    public string Code { get; } = code;
}

/// <summary>
/// SES sending: checks a request as SES does (verified senders, 50 recipients, message size, addresses), turns it into
/// the message SES would send (Bcc removed, SES's Message-ID and Date), and hands it to the outbound queue. The caller
/// is answered with SES's MessageId once the message is durable.
/// </summary>
internal sealed class SesSending(SendingIdentities identities, OutboundQueue outbound, IMessageStore state, IOriginalMessages originals, SmtpOptions smtp, AwsAccount options, TimeProvider time)
{
    public const int MaxRecipients = 50;

    /// <summary>SES v1's limit on a raw message (10 MB), and SESv2's (40 MB).</summary>
    public const long MaxRawSizeV1 = 10 * 1024 * 1024;
    public const long MaxRawSizeV2 = 40 * 1024 * 1024;

    public SendingIdentities Identities => identities;

    /// <summary>SendRawEmail and SESv2's Raw content: without a Source the sender is the From header, without Destinations the recipients are To, Cc and Bcc.</summary>
    public Task<string> SendRawAsync(byte[] raw, string? source, IReadOnlyList<string>? destinations, long maxSize, CancellationToken cancellationToken)
    {
        if (raw.Length > maxSize)
        {
            throw new SesSendingException(SesSendingException.MessageRejected, string.Create(CultureInfo.InvariantCulture, $"Message length is more than {maxSize} bytes long: '{raw.Length}'."));
        }

        MimeMessage message;
        try
        {
            message = MimeMessage.Load(new MemoryStream(raw));
        }
        catch (FormatException e)
        {
            throw new SesSendingException(SesSendingException.InvalidParameterValue, $"The raw message is not a valid MIME message: {e.Message}");
        }

        if (message.From.Count == 0)
        {
            if (source is null)
            {
                throw new SesSendingException(SesSendingException.InvalidParameterValue, "Missing required header 'From'.");
            }

            // RFC 5322 §3.6 requires a From field; the envelope sender is the best value for it.
            message.From.Add(ParseAddress(source));
        }

        return SubmitAsync(message, source, destinations, null, cancellationToken);
    }

    /// <summary>SendEmail (v1) and SESv2's Simple content.</summary>
    public Task<string> SendAsync(SesComposition composition, CancellationToken cancellationToken)
    {
        var message = Compose(composition);
        var destinations = composition.To.Concat(composition.Cc).Concat(composition.Bcc).ToList();
        return SubmitAsync(message, composition.Source, destinations, composition.ReturnPath, cancellationToken);
    }

    /// <summary>SendBounce: a DSN for a message Inlet received, to its envelope sender, with the null reverse-path.</summary>
    public async Task<string> SendBounceAsync(SesBounceRequest request, CancellationToken cancellationToken)
    {
        if (request.Recipients.Count == 0)
        {
            throw new SesSendingException(SesSendingException.InvalidParameterValue, "BouncedRecipientInfoList must contain at least one BouncedRecipientInfo.");
        }

        var sender = ParseAddress(request.BounceSender);
        CheckVerified([sender.Address]);
        var original = MessageId.IsValid(request.OriginalMessageId)
            ? await state.GetMessageAsync(request.OriginalMessageId, cancellationToken) ?? originals.FindUnrecorded(request.OriginalMessageId)
            : null;
        if (original is null)
        {
            throw new SesSendingException(SesSendingException.MessageRejected, $"Could not find the original message: {request.OriginalMessageId}.");
        }

        if (original.MailFrom.Length == 0)
        {
            throw new SesSendingException(SesSendingException.MessageRejected, $"The original message {original.Id} has a null sender (<>); there is nobody to bounce it to.");
        }

        var groups = new List<DsnRecipient>();
        foreach (var recipient in request.Recipients)
        {
            var address = ParseAddress(recipient.Recipient).Address;
            var group = recipient.DsnFields ?? FromBounceType(address, recipient.BounceType)
                ?? throw new SesSendingException(SesSendingException.InvalidParameterValue, $"BouncedRecipientInfo for {address} needs a BounceType or RecipientDsnFields.");
            groups.Add(group with { FinalRecipient = string.IsNullOrEmpty(group.FinalRecipient) ? address : group.FinalRecipient });
        }

        byte[] headers;
        try
        {
            headers = await originals.ReadHeaderSectionAsync(original, cancellationToken);
        }
        catch (FileNotFoundException)
        {
            throw new SesSendingException(SesSendingException.MessageRejected, $"The original message {original.Id} is no longer stored.");
        }

        var human = request.Explanation
            ?? $"Your message could not be delivered to {string.Join(", ", groups.Select(g => g.FinalRecipient))}.\n\n"
                + string.Join("\n", groups.Select(g => $"{g.FinalRecipient}: {g.Status} {g.DiagnosticCode}")) + "\n";
        var dsn = DeliveryStatusNotification.Create(
            request.ReportingMta ?? smtp.Hostname,
            request.BounceSender,
            original.MailFrom,
            human,
            request.ArrivalDate ?? original.ReceivedAt,
            request.ExtensionFields,
            groups,
            headers);
        var id = SesMessageId.New(time.GetUtcNow());
        dsn.MessageId = SesMessageId.Header(id);
        await outbound.SubmitAsync(new OutgoingMail(OutboxKind.Bounce, dsn, string.Empty, [original.MailFrom], original.Id, id), cancellationToken);
        return id;
    }

    /// <summary>SES's defaults for a BounceType, when no RecipientDsnFields are given.</summary>
    private static DsnRecipient? FromBounceType(string recipient, string? bounceType) => bounceType switch
    {
        "DoesNotExist" => new DsnRecipient(recipient, "failed", "5.1.1", "smtp; 550 5.1.1 Mailbox does not exist"),
        "MessageTooLarge" => new DsnRecipient(recipient, "failed", "5.3.4", "smtp; 552 5.3.4 Message too large"),
        "ExceededQuota" => new DsnRecipient(recipient, "failed", "5.2.2", "smtp; 552 5.2.2 Mailbox full"),
        "ContentRejected" => new DsnRecipient(recipient, "failed", "5.6.1", "smtp; 550 5.6.1 Message content rejected"),
        "Undefined" => new DsnRecipient(recipient, "failed", "5.0.0", "smtp; 550 5.0.0 Undefined error"),
        "TemporaryFailure" => new DsnRecipient(recipient, "delayed", "4.0.0", "smtp; 450 4.0.0 Temporary failure"),
        null => null,
        _ => throw new SesSendingException(SesSendingException.InvalidParameterValue, $"BounceType '{bounceType}' must be one of DoesNotExist, MessageTooLarge, ExceededQuota, ContentRejected, Undefined, TemporaryFailure."),
    };

    private async Task<string> SubmitAsync(MimeMessage message, string? source, IReadOnlyList<string>? destinations, string? returnPath, CancellationToken cancellationToken)
    {
        var envelopeFrom = source is not null ? ParseAddress(source).Address : message.From.Mailboxes.First().Address;
        var recipients = (destinations is { Count: > 0 }
                ? destinations.Select(d => ParseAddress(d).Address)
                : message.To.Mailboxes.Concat(message.Cc.Mailboxes).Concat(message.Bcc.Mailboxes).Select(m => CheckAddress(m.Address)))
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .ToList();
        if (recipients.Count == 0)
        {
            throw new SesSendingException(SesSendingException.InvalidParameterValue, "Missing required header 'To'.");
        }

        if (recipients.Count > MaxRecipients)
        {
            throw new SesSendingException(SesSendingException.InvalidParameterValue, $"Recipient count exceeds {MaxRecipients}.");
        }

        var returnAddress = returnPath is null ? null : ParseAddress(returnPath).Address;
        CheckVerified([envelopeFrom, .. message.From.Mailboxes.Select(m => CheckAddress(m.Address)), .. returnAddress is null ? Array.Empty<string>() : [returnAddress]]);

        // SES sends Bcc recipients on the envelope only, and sets its own Message-ID and Date.
        message.Headers.RemoveAll(HeaderId.Bcc);
        var now = time.GetUtcNow();
        var id = SesMessageId.New(now);
        message.MessageId = SesMessageId.Header(id);
        message.Date = now;
        await outbound.SubmitAsync(new OutgoingMail(OutboxKind.Sent, message, returnAddress ?? envelopeFrom, recipients, string.Empty, id), cancellationToken);
        return id;
    }

    private void CheckVerified(IEnumerable<string> senders)
    {
        var failed = senders.Distinct(StringComparer.OrdinalIgnoreCase).Where(s => !identities.IsVerified(s)).ToList();
        if (failed.Count > 0)
        {
            throw new SesSendingException(SesSendingException.MessageRejected, $"Email address is not verified. The following identities failed the check in region {options.Region.ToUpperInvariant()}: {string.Join(", ", failed)}");
        }
    }

    /// <summary>An address as SES takes it: <c>user@example.com</c> or <c>Name &lt;user@example.com&gt;</c>.</summary>
    public static MailboxAddress ParseAddress(string text)
    {
        if (!text.Contains('@'))
        {
            throw new SesSendingException(SesSendingException.InvalidParameterValue, "Missing final '@domain'");
        }

        if (!MailboxAddress.TryParse(ParserOptions.Default, text, out var mailbox))
        {
            throw new SesSendingException(SesSendingException.InvalidParameterValue, "Illegal address");
        }

        CheckAddress(mailbox.Address);
        return mailbox;
    }

    private static string CheckAddress(string address)
    {
        var at = address.LastIndexOf('@');
        if (at <= 0)
        {
            throw new SesSendingException(SesSendingException.InvalidParameterValue, "Missing final '@domain'");
        }

        if (at == address.Length - 1 || !SendingIdentities.IsDomainName(address[(at + 1)..]))
        {
            throw new SesSendingException(SesSendingException.InvalidParameterValue, "Illegal address");
        }

        return address;
    }

    private static MimeMessage Compose(SesComposition c)
    {
        var message = new MimeMessage();
        message.From.Add(ParseAddress(c.Source));
        message.To.AddRange(c.To.Select(ParseAddress));
        message.Cc.AddRange(c.Cc.Select(ParseAddress));
        message.ReplyTo.AddRange(c.ReplyTo.Select(ParseAddress));
        message.Headers.Replace(HeaderId.Subject, EncodingOf(c.Subject.Charset), c.Subject.Data);
        foreach (var (name, value) in c.Headers)
        {
            message.Headers.Add(name, value);
        }

        var text = c.Text is { } t ? Part("plain", t) : null;
        var html = c.Html is { } h ? Part("html", h) : null;
        MimeEntity body = (text, html) switch
        {
            (not null, not null) => new MultipartAlternative { text, html },
            (not null, null) => text,
            (null, not null) => html,
            _ => Part("plain", new SesText(string.Empty)),
        };
        if (c.Attachments.Count > 0)
        {
            var mixed = new Multipart("mixed") { body };
            foreach (var a in c.Attachments)
            {
                var part = new MimePart(ContentType.TryParse(a.ContentType ?? "application/octet-stream", out var type) ? type : new ContentType("application", "octet-stream"))
                {
                    Content = new MimeContent(new MemoryStream(a.Content)),
                    ContentTransferEncoding = ContentEncoding.Base64,
                    ContentDisposition = new ContentDisposition(string.Equals(a.ContentDisposition, "INLINE", StringComparison.OrdinalIgnoreCase) ? ContentDisposition.Inline : ContentDisposition.Attachment),
                    FileName = a.FileName,
                };
                if (a.ContentId is not null)
                {
                    part.ContentId = a.ContentId.Trim('<', '>');
                }

                if (a.ContentDescription is not null)
                {
                    part.ContentDescription = a.ContentDescription;
                }

                mixed.Add(part);
            }

            body = mixed;
        }

        message.Body = body;
        return message;
    }

    private static TextPart Part(string subtype, SesText content)
    {
        var part = new TextPart(subtype);
        part.SetText(EncodingOf(content.Charset), content.Data);
        return part;
    }

    /// <summary>The named charset; UTF-8 when none is named (SES's default) or the name is unknown.</summary>
    private static Encoding EncodingOf(string? charset)
    {
        if (string.IsNullOrEmpty(charset))
        {
            return Encoding.UTF8;
        }

        try
        {
            return Encoding.GetEncoding(charset);
        }
        catch (ArgumentException)
        {
            return Encoding.UTF8;
        }
    }
}
