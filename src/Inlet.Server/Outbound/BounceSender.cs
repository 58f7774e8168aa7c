using MimeKit;

namespace Inlet.Outbound;

/// <summary>
/// Sends a Bounce action's DSN to the message's envelope sender with the null reverse-path (RFC 5321 §4.5.5): into
/// the outbound queue, which relays it or holds it in the outbox.
/// </summary>
internal sealed class BounceSender(OutboundQueue outbound)
{
    public const string OutboxContainer = OutboundQueue.Container;

    public async Task<string> SendAsync(MimeMessage message, string recipient, string originalMessageId, CancellationToken cancellationToken)
    {
        var record = await outbound.SubmitAsync(new OutgoingMail(OutboxKind.Bounce, message, string.Empty, [recipient], originalMessageId), cancellationToken);
        return outbound.Describe(record);
    }
}
