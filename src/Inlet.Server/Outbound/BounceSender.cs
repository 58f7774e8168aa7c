using Inlet.Processing;
using Inlet.Smtp;
using Inlet.Storage;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Inlet.Outbound;

/// <summary>
/// Sends bounce messages: through the configured relay with the null reverse-path (RFC 5321 §4.5.5), or into
/// the outbox when no relay is configured. A relay failure is an action failure, so it is retried.
/// </summary>
internal sealed class BounceSender(OutboundOptions options, SmtpOptions smtp, IStateStore state, BlobStores blobs, TimeProvider time)
{
    public const string OutboxContainer = "outbox";

    public async Task<string> SendAsync(MimeMessage message, string recipient, string originalMessageId, CancellationToken cancellationToken)
    {
        if (options.Host is null)
        {
            var id = MessageId.New(time.GetUtcNow());
            await using (var writer = await blobs.Spool.CreateAsync(OutboxContainer, id + ".eml", cancellationToken))
            {
                await message.WriteToAsync(FormatOptions.Default, writer.Stream, cancellationToken);
                await writer.CommitAsync(cancellationToken);
            }

            var size = (await blobs.Spool.GetInfoAsync(OutboxContainer, id + ".eml", cancellationToken))?.Size ?? 0;
            await state.InsertOutboxAsync(new OutboxRecord(id, time.GetUtcNow(), originalMessageId, string.Empty, recipient, message.Subject ?? string.Empty, size, "held"), cancellationToken);
            return $"kept in the outbox as {id} (no Outbound relay is configured)";
        }

        using var client = new SmtpClient { LocalDomain = smtp.Hostname };
        if (options.AcceptAnyCertificate)
        {
            client.ServerCertificateValidationCallback = (_, _, _, _) => true;
        }

        var security = Enum.TryParse<SecureSocketOptions>(options.Security, ignoreCase: true, out var s) ? s : SecureSocketOptions.StartTlsWhenAvailable;
        await client.ConnectAsync(options.Host, options.Port, security, cancellationToken);
        if (options.Username is not null)
        {
            await client.AuthenticateAsync(options.Username, options.Password ?? string.Empty, cancellationToken);
        }

        var reply = await client.SendAsync(message, NullSender, [MailboxAddress.Parse(recipient)], cancellationToken);
        await client.DisconnectAsync(quit: true, cancellationToken);
        return $"sent through {options.Host}:{options.Port}: {reply}";
    }

    private static MailboxAddress NullSender => new(string.Empty, string.Empty);
}
