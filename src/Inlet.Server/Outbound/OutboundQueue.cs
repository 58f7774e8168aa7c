using System.Net.Sockets;
using Inlet.Smtp;
using Inlet.Storage;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace Inlet.Outbound;

/// <summary>A message to send: its content and its envelope (<paramref name="MailFrom"/> empty for the null reverse-path).</summary>
internal sealed record OutgoingMail(string Kind, MimeMessage Message, string MailFrom, IReadOnlyList<string> Recipients, string RelatesTo = "", string? SesMessageId = null);

/// <summary>
/// Every outgoing message goes through here. It is stored first — the content in the spool's outbox, then its
/// record — so that a caller is answered only once the message is durable. Without a relay it is held in the outbox;
/// with one it is a work item of a durable queue: sent through the relay, retried with backoff on a 4xx reply or a
/// connection failure, ended as failed on a 5xx reply. Items survive a restart.
/// </summary>
internal sealed partial class OutboundQueue : BackgroundService
{
    public const string Container = "outbox";

    /// <summary>How long a message that keeps meeting temporary failures is retried before it is given up.</summary>
    public static readonly TimeSpan MaxRetryTime = TimeSpan.FromHours(24);

    private static readonly TimeSpan s_maxDelay = TimeSpan.FromHours(1);
    private const int Parallelism = 4;

    private readonly OutboundOptions _options;
    private readonly SmtpOptions _smtp;
    private readonly IOutboxStore _state;
    private readonly BlobStores _blobs;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DueWorkLoop<OutboxRecord> _loop;

    public OutboundQueue(OutboundOptions options, SmtpOptions smtp, IOutboxStore state, BlobStores blobs, StateOptions leases, TimeProvider time, ILogger<OutboundQueue> logger)
    {
        _options = options;
        _smtp = smtp;
        _state = state;
        _blobs = blobs;
        _time = time;
        _logger = logger;
        _loop = new DueWorkLoop<OutboxRecord>("Outbound mail", state.OutboxQueue, r => r.Id, DeliverAsync, Parallelism, leases.Lease, time, logger);
    }

    public static string Key(string id) => id + ".eml";

    /// <summary>Stores the message durably and, with a relay, queues it; returns its outbox record.</summary>
    public async Task<OutboxRecord> SubmitAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var id = MessageId.New(now);
        await using (var writer = await _blobs.Spool.CreateAsync(Container, Key(id), cancellationToken))
        {
            await mail.Message.WriteToAsync(FormatOptions.Default, writer.Stream, cancellationToken);
            await writer.CommitAsync(cancellationToken);
        }

        var size = (await _blobs.Spool.GetInfoAsync(Container, Key(id), cancellationToken))?.Size ?? 0;
        var relay = _options.Host is not null;
        var record = new OutboxRecord
        {
            Id = id,
            CreatedAt = now,
            Kind = mail.Kind,
            MessageId = mail.RelatesTo,
            SesMessageId = mail.SesMessageId,
            MailFrom = mail.MailFrom,
            Recipients = mail.Recipients,
            Subject = mail.Message.Subject ?? string.Empty,
            Size = size,
            Status = relay ? OutboxStatus.Pending : OutboxStatus.Held,
            NextAttemptAt = relay ? now : null,
        };
        await _state.InsertOutboxAsync(record, cancellationToken);
        if (relay)
        {
            _loop.Wake();
        }

        return record;
    }

    /// <summary>What became of a submitted message, for traces.</summary>
    public string Describe(OutboxRecord record) => record.Status == OutboxStatus.Held
        ? $"kept in the outbox as {record.Id} (no Outbound relay is configured)"
        : $"queued as outbox item {record.Id} for the relay {_options.Host}:{_options.Port}";

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => _loop.RunAsync(stoppingToken);

    private async Task DeliverAsync(OutboxRecord record, CancellationToken stoppingToken)
    {
        if (_options.Host is null)
        {
            // Queued under a configuration that had a relay; without one it stays readable in the outbox.
            await _state.UpdateOutboxAsync(record with { Status = OutboxStatus.Held, NextAttemptAt = null }, stoppingToken);
            return;
        }

        await using var content = await _blobs.Spool.OpenReadAsync(Container, Key(record.Id), stoppingToken);
        if (content is null)
        {
            await _state.UpdateOutboxAsync(record with { Status = OutboxStatus.Failed, NextAttemptAt = null, LastError = "the message's content is no longer in the spool" }, stoppingToken);
            return;
        }

        var message = await MimeMessage.LoadAsync(content, stoppingToken);
        var attempts = record.Attempts + 1;
        try
        {
            var reply = await RelayAsync(message, record, stoppingToken);
            await _state.UpdateOutboxAsync(record with { Status = OutboxStatus.Sent, Attempts = attempts, NextAttemptAt = null, LastError = reply, SentAt = _time.GetUtcNow() }, stoppingToken);
            LogSent(_logger, record.Id, record.Kind, _options.Host, reply);
        }
        catch (SmtpCommandException e) when ((int)e.StatusCode >= 500)
        {
            // RFC 5321 §4.2.1: a 5yz reply is a permanent failure; sending again would get the same answer.
            var error = $"{(int)e.StatusCode} {e.Message}";
            await _state.UpdateOutboxAsync(record with { Status = OutboxStatus.Failed, Attempts = attempts, NextAttemptAt = null, LastError = error }, stoppingToken);
            LogRefused(_logger, record.Id, _options.Host, error);
        }
        catch (Exception e) when (e is SmtpCommandException or SmtpProtocolException or IOException or SocketException or ServiceNotConnectedException or AuthenticationException or SslHandshakeException or TimeoutException)
        {
            var error = e is SmtpCommandException c ? $"{(int)c.StatusCode} {c.Message}" : $"{e.GetType().Name}: {e.Message}";
            var now = _time.GetUtcNow();
            var delay = TimeSpan.FromTicks(Math.Min(_options.RetryDelay.Ticks * (1L << Math.Min(attempts - 1, 20)), s_maxDelay.Ticks));
            if (now + delay - record.CreatedAt > MaxRetryTime)
            {
                await _state.UpdateOutboxAsync(record with { Status = OutboxStatus.Failed, Attempts = attempts, NextAttemptAt = null, LastError = $"gave up after {attempts} attempts: {error}" }, stoppingToken);
                return;
            }

            await _state.UpdateOutboxAsync(record with { Attempts = attempts, NextAttemptAt = now + delay, LastError = error }, stoppingToken);
            LogRetry(_logger, record.Id, _options.Host, error, delay);
        }
    }

    private async Task<string> RelayAsync(MimeMessage message, OutboxRecord record, CancellationToken cancellationToken)
    {
        using var client = new SmtpClient { LocalDomain = _smtp.Hostname, Timeout = 60_000 };
        if (_options.AcceptAnyCertificate)
        {
            client.ServerCertificateValidationCallback = (_, _, _, _) => true;
        }

        var security = Enum.TryParse<SecureSocketOptions>(_options.Security, ignoreCase: true, out var s) ? s : SecureSocketOptions.StartTlsWhenAvailable;
        await client.ConnectAsync(_options.Host!, _options.Port, security, cancellationToken);
        if (_options.Username is not null)
        {
            await client.AuthenticateAsync(_options.Username, _options.Password ?? string.Empty, cancellationToken);
        }

        // An empty MailFrom is the null reverse-path <> of a bounce (RFC 5321 §4.5.5).
        var sender = record.MailFrom.Length == 0 ? new MailboxAddress(string.Empty, string.Empty) : MailboxAddress.Parse(record.MailFrom);
        var reply = await client.SendAsync(message, sender, record.Recipients.Select(MailboxAddress.Parse), cancellationToken);
        await client.DisconnectAsync(quit: true, cancellationToken);
        return $"sent through {_options.Host}:{_options.Port}: {reply}";
    }

    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "Outbox item {Id} ({Kind}) sent through {Relay}: {Reply}")]
    private static partial void LogSent(ILogger logger, string id, string kind, string relay, string reply);

    [LoggerMessage(EventId = 701, Level = LogLevel.Warning, Message = "Outbox item {Id} refused by {Relay}: {Error}")]
    private static partial void LogRefused(ILogger logger, string id, string relay, string error);

    [LoggerMessage(EventId = 702, Level = LogLevel.Warning, Message = "Outbox item {Id} not sent through {Relay} ({Error}); retrying in {Delay}")]
    private static partial void LogRetry(ILogger logger, string id, string relay, string error, TimeSpan delay);
}
