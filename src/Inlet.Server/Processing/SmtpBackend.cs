using System.Net;
using Inlet.Rules;
using Inlet.Smtp;
using Inlet.Storage;

namespace Inlet.Processing;

/// <summary>
/// Inlet's side of the SMTP boundary: IP filters at connect, the active rule set at RCPT, and the durable spool
/// for the message data.
/// </summary>
internal sealed class SmtpBackend(ReceiptConfigurationProvider configuration, IBlobStore spool, IStateStore state, MessageQueue queue, TimeProvider time) : ISmtpBackend
{
    private readonly ReceiptConfigurationProvider _configuration = configuration;
    private readonly IBlobStore _spool = spool;
    private readonly IStateStore _state = state;
    private readonly MessageQueue _queue = queue;

    public const string SpoolContainer = "spool";

    private static readonly SmtpReply s_blocked = new(554, "5.7.1", "Access denied: your address is blocked by a receipt IP filter");
    private static readonly SmtpReply s_noRule = new(550, "5.1.1", "Mailbox unavailable: no enabled receipt rule of the active rule set matches this recipient");
    private static readonly SmtpReply s_noActiveRuleSet = new(550, "5.1.1", "Mailbox unavailable: no receipt rule set is active");
    private static readonly SmtpReply s_tlsRequired = new(530, "5.7.0", "Must issue a STARTTLS command first: the receipt rule for this recipient requires TLS");

    public SmtpReply? CheckClient(IPEndPoint? remote) =>
        remote is not null && _configuration.Current.Filters.IsBlocked(remote.Address) ? s_blocked : null;

    public SmtpReply? CheckRecipient(string address, SmtpClientInfo client)
    {
        var active = _configuration.Current.Configuration.ActiveRuleSet;
        return RecipientAcceptance.Decide(active, address, client.IsSecure) switch
        {
            RecipientDecision.Accept => null,
            RecipientDecision.TlsRequired => s_tlsRequired,
            _ => active is null ? s_noActiveRuleSet : s_noRule,
        };
    }

    public async ValueTask<ISmtpMessageWriter> BeginMessageAsync(CancellationToken cancellationToken)
    {
        var id = MessageId.New(time.GetUtcNow());
        var blob = await _spool.CreateAsync(SpoolContainer, id + ".eml", cancellationToken);
        return new SpoolWriter(this, id, blob);
    }

    private sealed class SpoolWriter(SmtpBackend backend, string id, IBlobWriter blob) : ISmtpMessageWriter
    {
        private long _size;

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            _size += data.Length;
            await blob.Stream.WriteAsync(data, cancellationToken);
        }

        public async ValueTask<SmtpReply> CommitAsync(SmtpEnvelope envelope, CancellationToken cancellationToken)
        {
            // The order is the durability contract: the file is fsynced, then its queue record is committed; only
            // then does the client hear 250. A crash in between leaves a file with no record, which start-up removes.
            // Neither step is cancelled half-way when the client goes away.
            await blob.CommitAsync(CancellationToken.None);
            var record = new MessageRecord
            {
                Id = id,
                ReceivedAt = envelope.ReceivedAt,
                MailFrom = envelope.MailFrom,
                Recipients = envelope.Recipients,
                RemoteAddress = envelope.RemoteEndPoint?.Address.ToString(),
                ClientName = envelope.ClientName,
                IsSecure = envelope.IsSecure,
                TlsProtocol = envelope.TlsProtocol,
                SmtpUtf8 = envelope.SmtpUtf8,
                BodyType = envelope.BodyType,
                Size = _size,
                ConfigVersion = backend._configuration.Current.Configuration.Version,
                Status = MessageStatus.Queued,
            };
            try
            {
                await backend._state.InsertMessageAsync(record, CancellationToken.None);
            }
            catch
            {
                await backend._spool.DeleteAsync(SpoolContainer, id + ".eml", CancellationToken.None);
                throw;
            }

            backend._queue.Enqueue(id);
            return SmtpReply.Accepted(id);
        }

        public ValueTask DisposeAsync() => blob.DisposeAsync();
    }
}
