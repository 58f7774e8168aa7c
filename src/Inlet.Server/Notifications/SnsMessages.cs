using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Inlet.Notifications;

/// <summary>The fields of one SNS message, before it is signed and written.</summary>
internal sealed record SnsMessage
{
    public required string Type { get; init; }

    public required string MessageId { get; init; }

    public string? Token { get; init; }

    public required string TopicArn { get; init; }

    public string? Subject { get; init; }

    public required string Message { get; init; }

    public string? SubscribeUrl { get; init; }

    public required DateTimeOffset Timestamp { get; init; }

    public string? UnsubscribeUrl { get; init; }

    public string TimestampText => WireTime.IsoMilliseconds(Timestamp);
}

/// <summary>
/// Writes SNS messages exactly as SNS sends them over HTTP: the fields in SNS's order, no <c>Subject</c> when there
/// is none, <c>Timestamp</c> with three fractional digits and <c>Z</c>, signed over SNS's canonical string.
/// </summary>
internal static class SnsMessages
{
    private static readonly JsonWriterOptions s_writer = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// The string to sign: <c>name\nvalue\n</c> for each signed field in byte order. Notifications sign Message,
    /// MessageId, Subject (when present), Timestamp, TopicArn, Type; confirmations sign Message, MessageId,
    /// SubscribeURL, Timestamp, Token, TopicArn, Type.
    /// </summary>
    public static string StringToSign(SnsMessage m)
    {
        var text = new StringBuilder();
        void Add(string name, string? value)
        {
            if (value is not null)
            {
                text.Append(name).Append('\n').Append(value).Append('\n');
            }
        }

        Add("Message", m.Message);
        Add("MessageId", m.MessageId);
        if (m.Type == "Notification")
        {
            Add("Subject", m.Subject);
            Add("Timestamp", m.TimestampText);
            Add("TopicArn", m.TopicArn);
            Add("Type", m.Type);
        }
        else
        {
            Add("SubscribeURL", m.SubscribeUrl);
            Add("Timestamp", m.TimestampText);
            Add("Token", m.Token);
            Add("TopicArn", m.TopicArn);
            Add("Type", m.Type);
        }

        return text.ToString();
    }

    /// <summary>The JSON body of an HTTP/HTTPS delivery.</summary>
    public static string HttpBody(SnsMessage m, string signatureVersion, string signature, string signingCertUrl)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, s_writer))
        {
            json.WriteStartObject();
            json.WriteString("Type", m.Type);
            json.WriteString("MessageId", m.MessageId);
            if (m.Token is not null)
            {
                json.WriteString("Token", m.Token);
            }

            json.WriteString("TopicArn", m.TopicArn);
            if (m.Subject is not null)
            {
                json.WriteString("Subject", m.Subject);
            }

            json.WriteString("Message", m.Message);
            if (m.SubscribeUrl is not null)
            {
                json.WriteString("SubscribeURL", m.SubscribeUrl);
            }

            json.WriteString("Timestamp", m.TimestampText);
            json.WriteString("SignatureVersion", signatureVersion);
            json.WriteString("Signature", signature);
            json.WriteString("SigningCertURL", signingCertUrl);
            if (m.UnsubscribeUrl is not null)
            {
                json.WriteString("UnsubscribeURL", m.UnsubscribeUrl);
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// The event a Lambda subscription receives: one record, <c>Sns</c> with the Lambda spellings
    /// (<c>SigningCertUrl</c>, <c>UnsubscribeUrl</c>), <c>"Subject": null</c> when absent, and <c>MessageAttributes: {}</c>.
    /// </summary>
    public static string LambdaEvent(SnsMessage m, string subscriptionArn, string signatureVersion, string signature, string signingCertUrl)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, s_writer))
        {
            json.WriteStartObject();
            json.WriteStartArray("Records");
            json.WriteStartObject();
            json.WriteString("EventSource", "aws:sns");
            json.WriteString("EventVersion", "1.0");
            json.WriteString("EventSubscriptionArn", subscriptionArn);
            json.WriteStartObject("Sns");
            json.WriteString("Type", m.Type);
            json.WriteString("MessageId", m.MessageId);
            json.WriteString("TopicArn", m.TopicArn);
            if (m.Subject is null)
            {
                json.WriteNull("Subject");
            }
            else
            {
                json.WriteString("Subject", m.Subject);
            }

            json.WriteString("Message", m.Message);
            json.WriteString("Timestamp", m.TimestampText);
            json.WriteString("SignatureVersion", signatureVersion);
            json.WriteString("Signature", signature);
            json.WriteString("SigningCertUrl", signingCertUrl);
            json.WriteString("UnsubscribeUrl", m.UnsubscribeUrl ?? string.Empty);
            json.WriteStartObject("MessageAttributes");
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
