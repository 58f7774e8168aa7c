using System.Text.Json.Serialization;

namespace Inlet.Mail;

// The objects SES puts in Lambda events and SNS notifications. Property order is the wire order observed in real
// payloads and the public fixtures; optional members are left out when absent, never written as null.

internal sealed record SesHeader(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("value")] string Value);

internal sealed record SesCommonHeaders
{
    [JsonPropertyName("returnPath")]
    public string? ReturnPath { get; init; }

    [JsonPropertyName("from")]
    public IReadOnlyList<string>? From { get; init; }

    /// <summary>A string, not a list, as in real payloads.</summary>
    [JsonPropertyName("sender")]
    public string? Sender { get; init; }

    [JsonPropertyName("replyTo")]
    public IReadOnlyList<string>? ReplyTo { get; init; }

    [JsonPropertyName("date")]
    public string? Date { get; init; }

    [JsonPropertyName("to")]
    public IReadOnlyList<string>? To { get; init; }

    [JsonPropertyName("cc")]
    public IReadOnlyList<string>? Cc { get; init; }

    [JsonPropertyName("bcc")]
    public IReadOnlyList<string>? Bcc { get; init; }

    [JsonPropertyName("messageId")]
    public string? MessageId { get; init; }

    [JsonPropertyName("subject")]
    public string? Subject { get; init; }
}

internal sealed record SesMail
{
    [JsonPropertyName("timestamp")]
    public required string Timestamp { get; init; }

    [JsonPropertyName("source")]
    public required string Source { get; init; }

    [JsonPropertyName("messageId")]
    public required string MessageId { get; init; }

    [JsonPropertyName("destination")]
    public required IReadOnlyList<string> Destination { get; init; }

    [JsonPropertyName("headersTruncated")]
    public bool HeadersTruncated { get; init; }

    [JsonPropertyName("headers")]
    public required IReadOnlyList<SesHeader> Headers { get; init; }

    [JsonPropertyName("commonHeaders")]
    public required SesCommonHeaders CommonHeaders { get; init; }
}

internal sealed record SesVerdict([property: JsonPropertyName("status")] string Status)
{
    public static readonly SesVerdict Pass = new("PASS");
    public static readonly SesVerdict Fail = new("FAIL");
    public static readonly SesVerdict Gray = new("GRAY");
    public static readonly SesVerdict ProcessingFailed = new("PROCESSING_FAILED");
    public static readonly SesVerdict Disabled = new("DISABLED");
}

/// <summary><c>receipt.action</c>: the members of every action type, in their wire order; each type sets its own.</summary>
internal sealed record SesReceiptAction
{
    [JsonPropertyName("type")]
    public required string Type { get; init; }

    [JsonPropertyName("topicArn")]
    public string? TopicArn { get; init; }

    [JsonPropertyName("bucketName")]
    public string? BucketName { get; init; }

    [JsonPropertyName("objectKeyPrefix")]
    public string? ObjectKeyPrefix { get; init; }

    [JsonPropertyName("objectKey")]
    public string? ObjectKey { get; init; }

    [JsonPropertyName("encoding")]
    public string? Encoding { get; init; }

    [JsonPropertyName("smtpReplyCode")]
    public string? SmtpReplyCode { get; init; }

    [JsonPropertyName("statusCode")]
    public string? StatusCode { get; init; }

    [JsonPropertyName("message")]
    public string? Message { get; init; }

    [JsonPropertyName("sender")]
    public string? Sender { get; init; }

    [JsonPropertyName("functionArn")]
    public string? FunctionArn { get; init; }

    [JsonPropertyName("invocationType")]
    public string? InvocationType { get; init; }

    [JsonPropertyName("organizationArn")]
    public string? OrganizationArn { get; init; }
}

internal sealed record SesReceipt
{
    [JsonPropertyName("timestamp")]
    public required string Timestamp { get; init; }

    [JsonPropertyName("processingTimeMillis")]
    public long ProcessingTimeMillis { get; init; }

    [JsonPropertyName("recipients")]
    public required IReadOnlyList<string> Recipients { get; init; }

    [JsonPropertyName("spamVerdict")]
    public required SesVerdict SpamVerdict { get; init; }

    [JsonPropertyName("virusVerdict")]
    public required SesVerdict VirusVerdict { get; init; }

    [JsonPropertyName("spfVerdict")]
    public required SesVerdict SpfVerdict { get; init; }

    [JsonPropertyName("dkimVerdict")]
    public required SesVerdict DkimVerdict { get; init; }

    [JsonPropertyName("dmarcVerdict")]
    public required SesVerdict DmarcVerdict { get; init; }

    [JsonPropertyName("dmarcPolicy")]
    public string? DmarcPolicy { get; init; }

    [JsonPropertyName("action")]
    public required SesReceiptAction Action { get; init; }
}

internal sealed record SesContent(
    [property: JsonPropertyName("mail")] SesMail Mail,
    [property: JsonPropertyName("receipt")] SesReceipt Receipt);

internal sealed record SesEventRecord
{
    [JsonPropertyName("eventSource")]
    public string EventSource { get; init; } = "aws:ses";

    [JsonPropertyName("eventVersion")]
    public string EventVersion { get; init; } = "1.0";

    [JsonPropertyName("ses")]
    public required SesContent Ses { get; init; }
}

/// <summary>The Lambda action's event: one record, no message body.</summary>
internal sealed record SesEvent([property: JsonPropertyName("Records")] IReadOnlyList<SesEventRecord> Records);

/// <summary>What SES publishes to SNS: <c>content</c> only for the SNS action.</summary>
internal sealed record SesNotification
{
    [JsonPropertyName("notificationType")]
    public string NotificationType { get; init; } = "Received";

    [JsonPropertyName("mail")]
    public required SesMail Mail { get; init; }

    [JsonPropertyName("receipt")]
    public required SesReceipt Receipt { get; init; }

    [JsonPropertyName("content")]
    public string? Content { get; init; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SesEvent))]
[JsonSerializable(typeof(SesNotification))]
[JsonSerializable(typeof(SesMail))]
[JsonSerializable(typeof(SesReceipt))]
internal sealed partial class SesJsonContext : JsonSerializerContext;
