using System.Net;
using Inlet.Rules;
using Inlet.Smtp;
using Inlet.Storage;
using Microsoft.Extensions.Logging;

namespace Inlet.Processing;

/// <summary>
/// Inlet's side of the SMTP boundary: IP filters at connect, the active rule set at RCPT, and the durable spool
/// for the message data.
/// </summary>
internal sealed partial class SmtpBackend(
    ReceiptConfigurationProvider configuration,
    BlobStores blobs,
    IMessageStore state,
    MessageProcessor processor,
    MessagePipeline pipeline,
    SmtpOptions options,
    TimeProvider time,
    ILogger<SmtpBackend> logger) : ISmtpBackend
{
    private readonly ReceiptConfigurationProvider _configuration = configuration;
    private readonly IBlobStore _spool = blobs.Spool;
    private readonly IMessageStore _state = state;
    private readonly MessageProcessor _processor = processor;
    private readonly SmtpOptions _options = options;

    public const string SpoolContainer = "spool";

    private static readonly SmtpReply s_blocked = new(554, "5.7.1", "Access denied: your address is blocked by a receipt IP filter");
    private static readonly SmtpReply s_noRule = new(550, "5.1.1", "Mailbox unavailable: no enabled receipt rule of the active rule set matches this recipient");
    private static readonly SmtpReply s_noActiveRuleSet = new(550, "5.1.1", "Mailbox unavailable: no receipt rule set is active");
    private static readonly SmtpReply s_tlsRequired = new(530, "5.7.0", "Must issue a STARTTLS command first: the receipt rule for this recipient requires TLS");

    public SmtpReply? CheckClient(IPEndPoint? remote) =>
        remote is not null && _configuration.Current.Filters.IsBlocked(remote.Address) ? s_blocked : null;

    private long _spaceCheckedAt = long.MinValue / 2;
    private bool _spaceLow;

    /// <summary>Below Smtp.MinFreeSpace on the spool's file system, MAIL is deferred with 452 (checked at most once a second).</summary>
    public SmtpReply? CheckStorage()
    {
        if (_options.MinFreeSpace <= 0 || BlobStores.FilesOf(_spool) is not { } files)
        {
            return null;
        }

        var now = Environment.TickCount64;
        if (now - Volatile.Read(ref _spaceCheckedAt) > 1000)
        {
            _spaceLow = files.AvailableFreeSpace(SpoolContainer) is { } free && free < _options.MinFreeSpace;
            Volatile.Write(ref _spaceCheckedAt, now);
            if (_spaceLow)
            {
                LogStorageLow(logger, _options.MinFreeSpace);
            }
        }

        return _spaceLow ? SmtpReply.InsufficientStorage : null;
    }

    [LoggerMessage(EventId = 211, Level = LogLevel.Warning, Message = "The spool's file system has less than Smtp.MinFreeSpace ({MinFreeSpace} octets) free: MAIL is answered 452 4.3.1")]
    private static partial void LogStorageLow(ILogger logger, long minFreeSpace);


    /// <summary>
    /// The configuration in force at MAIL, pinned for the transaction: its recipients are judged by it and its message
    /// is recorded with its version, so the rules that accepted a recipient are the rules that process the message.
    /// </summary>
    public ISmtpTransaction BeginTransaction() => new PinnedTransaction(_configuration.Current.Configuration);

    private sealed class PinnedTransaction(ReceiptConfiguration configuration) : ISmtpTransaction
    {
        public long Version => configuration.Version;

        public SmtpReply? CheckRecipient(string address, SmtpClientInfo client)
        {
            var active = configuration.ActiveRuleSet;
            return RecipientAcceptance.Decide(active, address, client.IsSecure) switch
            {
                RecipientDecision.Accept => null,
                RecipientDecision.TlsRequired => s_tlsRequired,
                _ => active is null ? s_noActiveRuleSet : s_noRule,
            };
        }
    }

    public async ValueTask<ISmtpMessageWriter> BeginMessageAsync(CancellationToken cancellationToken)
    {
        var id = MessageId.New(time.GetUtcNow());
        var blob = await _spool.CreateAsync(SpoolContainer, id + ".eml", cancellationToken);
        return new SpoolWriter(this, id, blob);
    }

    /// <summary>
    /// Inline mode: the rules run while the client waits, so a Bounce becomes the reply itself. Past the time
    /// budget, or when an action fails, the message is not accepted: 451, and the client tries again later.
    /// </summary>
    private async Task<SmtpReply> ProcessInlineAsync(UnrecordedMessage message)
    {
        using var budget = new CancellationTokenSource(_options.InlineTimeout);
        try
        {
            var result = await pipeline.RunAsync(message, budget.Token);
            if (result.Status == MessageStatus.Processed)
            {
                InletMetrics.MessagesAccepted.Add(1);
            }

            return result.InlineReply ?? SmtpReply.Accepted(message.Received.Id);
        }
        catch (OperationCanceledException) when (budget.IsCancellationRequested)
        {
            await pipeline.RejectAsync(message, $"inline processing took longer than its budget of {_options.InlineTimeout.TotalSeconds:F0} s; the client was told to try again (451)");
            return new SmtpReply(451, "4.3.0", $"Processing took longer than {_options.InlineTimeout.TotalSeconds:F0} seconds; try again later");
        }
        catch (Exception e)
        {
            LogInlineFailed(logger, message.Received.Id, e);
            await pipeline.RejectAsync(message, $"inline processing failed: {e.Message}");
            return SmtpReply.LocalError;
        }
    }

    [LoggerMessage(EventId = 210, Level = LogLevel.Error, Message = "Message {Id}: inline processing failed")]
    private static partial void LogInlineFailed(ILogger logger, string id, Exception exception);

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
            var inline = backend._options.Mode == ProcessingMode.Inline;
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
                ConfigVersion = envelope.Transaction is PinnedTransaction pinned ? pinned.Version : backend._configuration.Current.Configuration.Version,
                Status = inline ? MessageStatus.Inline : MessageStatus.Queued,
            };

            if (inline)
            {
                return await backend.ProcessInlineAsync(await UnrecordedAsync(record));
            }

            // The durability contract: the data and the record are on disk before the client hears 250. While
            // processing has room and nothing older waits, the message is recorded leased to this node and processed
            // at once; otherwise it is queued, and claimed in its turn.
            var processor = backend._processor;
            if (processor.TryReserve())
            {
                try
                {
                    await RecordAsync(record, dataCommitted: false, processor.Lease);
                }
                catch
                {
                    processor.Unreserve();
                    throw;
                }

                processor.Start(record);
            }
            else
            {
                await RecordAsync(record, dataCommitted: false);
                processor.Wake();
            }

            InletMetrics.MessagesAccepted.Add(1);
            return SmtpReply.Accepted(id);
        }

        /// <summary>
        /// Inline, the record waits for the run's end. A small message in the embedded spool stays in memory until
        /// then, and is committed with it; a larger one is committed now, for the run to read it from the spool (a
        /// crash before the end leaves data with no record, which start-up removes).
        /// </summary>
        private async Task<UnrecordedMessage> UnrecordedAsync(MessageRecord received)
        {
            if (backend._spool is IRecordSharingSpool shared && shared.HeldInMemory(blob) is { } data)
            {
                return new UnrecordedMessage(received, data, final => RecordAsync(final, dataCommitted: false));
            }

            await blob.CommitAsync(CancellationToken.None);
            return new UnrecordedMessage(received, null, final => RecordAsync(final, dataCommitted: true));
        }

        /// <summary>
        /// Writes the record, and the data unless it is committed already. Neither write is cancelled half-way when
        /// the client goes away. A small message in the embedded spool shares the record's transaction; otherwise the
        /// data is committed first, then the record, and a crash in between leaves data with no record, which
        /// start-up removes.
        /// </summary>
        private async Task RecordAsync(MessageRecord record, bool dataCommitted, TimeSpan? lease = null)
        {
            if (!dataCommitted && backend._spool is IRecordSharingSpool shared && await shared.TryCommitWithMessageAsync(blob, record, lease, CancellationToken.None))
            {
                return;
            }

            if (!dataCommitted)
            {
                await blob.CommitAsync(CancellationToken.None);
            }

            try
            {
                await backend._state.InsertMessageAsync(record, lease, CancellationToken.None);
            }
            catch when (!dataCommitted)
            {
                // Data committed by this call goes with the failed record. Data committed before it (a large inline
                // message) stays for the rejection's record, which is written next; if that fails too, start-up
                // removes the data as it removes any data with no record.
                await backend._spool.DeleteAsync(SpoolContainer, id + ".eml", CancellationToken.None);
                throw;
            }
        }

        public ValueTask DisposeAsync() => blob.DisposeAsync();
    }
}
