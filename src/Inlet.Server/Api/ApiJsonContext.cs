using System.Text.Json.Serialization;
using Inlet.Storage;

namespace Inlet.Api;

internal sealed record HealthResponse(string Status);

internal sealed record ErrorResponse(string Code, string Message);

internal sealed record EnvelopeView(string MailFrom, IReadOnlyList<string> Recipients, string? RemoteAddress, string? ClientName, bool Tls, string? TlsProtocol);

/// <summary>A message as the API shows it.</summary>
internal sealed record MessageSummary(
    string MessageId,
    DateTimeOffset ReceivedAt,
    string Status,
    string? Subject,
    long Size,
    EnvelopeView Envelope,
    long RuleSetVersion)
{
    public static MessageSummary From(MessageRecord m) => new(
        m.Id,
        m.ReceivedAt,
        m.Status,
        m.Subject,
        m.Size,
        new EnvelopeView(m.MailFrom, m.Recipients, m.RemoteAddress, m.ClientName, m.IsSecure, m.TlsProtocol),
        m.ConfigVersion);
}

internal sealed record MessageListResponse(IReadOnlyList<MessageSummary> Messages, string? NextToken);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(MessageSummary))]
[JsonSerializable(typeof(MessageListResponse))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
