using System.Net;
using Microsoft.Extensions.Logging;

namespace Inlet.Smtp.Transport;

internal static partial class SmtpLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Debug, Message = "SMTP connection {ConnectionId} from {Remote}")]
    public static partial void Connected(ILogger logger, string connectionId, EndPoint? remote);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "SMTP connection {ConnectionId} from {Remote} refused: {Reply}")]
    public static partial void Refused(ILogger logger, string connectionId, EndPoint? remote, SmtpReply reply);

    [LoggerMessage(EventId = 102, Level = LogLevel.Debug, Message = "SMTP connection {ConnectionId} closed by the transport")]
    public static partial void TransportClosed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "SMTP connection {ConnectionId}: TLS handshake failed")]
    public static partial void TlsFailed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "SMTP connection {ConnectionId}: plaintext pipelined after STARTTLS; connection closed")]
    public static partial void PipelinedAfterStartTls(ILogger logger, string connectionId);

    [LoggerMessage(EventId = 105, Level = LogLevel.Error, Message = "SMTP connection {ConnectionId}: could not store a message")]
    public static partial void StoreFailed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(EventId = 106, Level = LogLevel.Information, Message = "Message {Reply} from <{MailFrom}> for {RecipientCount} recipient(s), {Size} octets")]
    public static partial void MessageReplied(ILogger logger, SmtpReply reply, string mailFrom, int recipientCount, long size);

    [LoggerMessage(EventId = 107, Level = LogLevel.Error, Message = "SMTP connection {ConnectionId} failed")]
    public static partial void ConnectionFailed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(EventId = 108, Level = LogLevel.Information, Message = "SMTP connection {ConnectionId} closed: {Reply}")]
    public static partial void LimitReached(ILogger logger, string connectionId, SmtpReply reply);
}
