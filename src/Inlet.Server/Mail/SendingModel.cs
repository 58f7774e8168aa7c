namespace Inlet.Mail;

// The shapes of SES sending: what its APIs take, once read from a request (SendEmail, SendRawEmail's envelope,
// SESv2's Simple and Template contents, SendBounce), which the Api builds and Outbound/SesSending.cs turns into
// messages, and the identities senders must belong to (Outbound/SendingIdentities.cs).

/// <summary>Text with its charset, as SES's <c>Content</c> carries it.</summary>
internal sealed record SesText(string Data, string? Charset = null);

/// <summary>An attachment of SESv2's Simple content.</summary>
internal sealed record SesAttachment(string FileName, byte[] Content, string? ContentType, string? ContentDisposition, string? ContentId, string? ContentDescription);

/// <summary>What SendEmail (v1) and SESv2's Simple and Template contents say, before it is a message.</summary>
internal sealed record SesComposition
{
    public required string Source { get; init; }

    public IReadOnlyList<string> To { get; init; } = [];

    public IReadOnlyList<string> Cc { get; init; } = [];

    public IReadOnlyList<string> Bcc { get; init; } = [];

    public IReadOnlyList<string> ReplyTo { get; init; } = [];

    public required SesText Subject { get; init; }

    public SesText? Text { get; init; }

    public SesText? Html { get; init; }

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    public IReadOnlyList<SesAttachment> Attachments { get; init; } = [];

    public string? ReturnPath { get; init; }
}

/// <summary>SendBounce's input (SES v1), already read from the request.</summary>
internal sealed record SesBounceRequest
{
    public required string OriginalMessageId { get; init; }

    public required string BounceSender { get; init; }

    public string? Explanation { get; init; }

    public string? ReportingMta { get; init; }

    public DateTimeOffset? ArrivalDate { get; init; }

    public IReadOnlyList<KeyValuePair<string, string>> ExtensionFields { get; init; } = [];

    public required IReadOnlyList<SesBouncedRecipient> Recipients { get; init; }
}

/// <summary>One BouncedRecipientInfo: a BounceType, or RecipientDsnFields (which win when both are given).</summary>
internal sealed record SesBouncedRecipient(string Recipient, string? BounceType, DsnRecipient? DsnFields);

/// <summary>One per-recipient group of a DSN (RFC 3464 §2.3).</summary>
internal sealed record DsnRecipient(string FinalRecipient, string Action, string Status, string? DiagnosticCode)
{
    public string? RemoteMta { get; init; }

    public DateTimeOffset? LastAttemptDate { get; init; }

    public IReadOnlyList<KeyValuePair<string, string>> ExtensionFields { get; init; } = [];
}

/// <summary>Where an identity comes from.</summary>
internal enum IdentitySource
{
    /// <summary>Created through VerifyEmailIdentity, VerifyDomainIdentity or CreateEmailIdentity; stored.</summary>
    Api,

    /// <summary>Declared under <c>Identities</c> in inlet.yaml.</summary>
    Configuration,

    /// <summary>A recipient condition of a receipt rule: what Inlet receives mail for, it may send from.</summary>
    ReceiptRules,
}

internal sealed record SendingIdentity(string Name, bool IsDomain, IdentitySource Source, string? VerificationToken);
