using Inlet.Mail;
using Inlet.Storage;

namespace Inlet.Management;

// The shapes in which the message queries answer: what /api/messages serves as JSON and the console shows.

internal sealed record EnvelopeView(string MailFrom, IReadOnlyList<string> Recipients, string? RemoteAddress, string? ClientName, bool Tls, string? TlsProtocol);

/// <summary>A message as the API lists it; <c>ending</c> says how the evaluation of a finished message ended.</summary>
internal sealed record MessageSummary(
    string MessageId,
    DateTimeOffset ReceivedAt,
    string Status,
    string? Subject,
    long Size,
    EnvelopeView Envelope,
    long RuleSetVersion,
    DateTimeOffset? NextAttemptAt,
    MessageEnding? Ending)
{
    public static MessageSummary From(MessageRecord m) => new(
        m.Id,
        m.ReceivedAt,
        m.Status,
        m.Subject,
        m.Size,
        new EnvelopeView(m.MailFrom, m.Recipients, m.RemoteAddress, m.ClientName, m.IsSecure, m.TlsProtocol),
        m.ConfigVersion,
        m.NextAttemptAt,
        MessageStatus.IsUnfinished(m.Status) ? null : MessageEnding.From(MessageTrace.Read(m.Trace)));
}

/// <summary>One message in full: its record, the SES mail object as actions see it now, and its trace.</summary>
internal sealed record MessageDetail(MessageSummary Message, SesMail? Mail, IReadOnlyList<TraceEntry> Trace);

internal sealed record MessageListResponse(IReadOnlyList<MessageSummary> Messages, string? NextToken);

internal sealed record ReplayResponse(string MessageId, string Status, long RuleSetVersion);

internal sealed record RuleTestAction(int Position, string Type, SesReceiptAction Receipt, string Effect);

internal sealed record RuleTestRule(string Name, IReadOnlyList<string> Recipients, IReadOnlyList<RuleTestAction> Actions);

/// <summary>A dry run: which rules and actions would run for a message, and the mail object they would see.</summary>
internal sealed record RuleTestResponse(string? RuleSet, long RuleSetVersion, IReadOnlyList<string> Recipients, IReadOnlyList<string> Unmatched, IReadOnlyList<RuleTestRule> Rules, string Outcome, SesMail Mail);

internal sealed record OutboxResponse(IReadOnlyList<OutboxRecord> Messages);
