using System.Buffers;
using System.Text;

namespace Inlet.Smtp;

/// <summary>
/// One SMTP reply: a three-digit code (RFC 5321 §4.2), an enhanced status code (RFC 3463, advertised with
/// ENHANCEDSTATUSCODES, RFC 2034) and one or more lines of text. The frequent replies are pre-built.
/// </summary>
internal sealed record SmtpReply(int Code, string? Status, IReadOnlyList<string> Lines)
{
    public SmtpReply(int code, string? status, string text) : this(code, status, [text])
    {
    }

    public bool IsPositive => Code is >= 200 and < 400;

    public bool IsTransientFailure => Code is >= 400 and < 500;

    /// <summary>The first line's text, for traces and logs.</summary>
    public string Text => Lines.Count == 0 ? string.Empty : Lines[0];

    public override string ToString() => Status is null ? $"{Code} {Text}" : $"{Code} {Status} {Text}";

    /// <summary>
    /// Writes the reply in the multi-line form of RFC 5321 §4.2.1: every line but the last has a hyphen after the
    /// code. The enhanced code is repeated on each line (RFC 2034 §4).
    /// </summary>
    public void WriteTo(IBufferWriter<byte> writer)
    {
        for (var i = 0; i < Lines.Count; i++)
        {
            var separator = i == Lines.Count - 1 ? ' ' : '-';
            var line = Status is null
                ? $"{Code}{separator}{Lines[i]}\r\n"
                : $"{Code}{separator}{Status} {Lines[i]}\r\n";
            var span = writer.GetSpan(Encoding.UTF8.GetMaxByteCount(line.Length));
            var written = Encoding.UTF8.GetBytes(line, span);
            writer.Advance(written);
        }
    }

    public static readonly SmtpReply Ok = new(250, "2.0.0", "Ok");
    public static readonly SmtpReply SenderOk = new(250, "2.1.0", "Sender ok");
    public static readonly SmtpReply RecipientOk = new(250, "2.1.5", "Recipient ok");
    public static readonly SmtpReply ResetOk = new(250, "2.0.0", "Reset state");
    public static readonly SmtpReply Bye = new(221, "2.0.0", "Bye");
    public static readonly SmtpReply StartMailInput = new(354, null, "End data with <CR><LF>.<CR><LF>");
    public static readonly SmtpReply ReadyToStartTls = new(220, "2.0.0", "Ready to start TLS");
    public static readonly SmtpReply CannotVerify = new(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery");
    public static readonly SmtpReply Help = new(214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS");

    public static readonly SmtpReply CommandUnrecognized = new(500, "5.5.2", "Command unrecognized");
    public static readonly SmtpReply LineTooLong = new(500, "5.5.6", "Line too long");
    public static readonly SmtpReply NotImplemented = new(502, "5.5.1", "Command not implemented");
    public static readonly SmtpReply BadSequence = new(503, "5.5.1", "Bad sequence of commands");
    public static readonly SmtpReply NeedEhlo = new(503, "5.5.1", "Send EHLO or HELO first");
    public static readonly SmtpReply NeedMail = new(503, "5.5.1", "Send MAIL FROM first");
    public static readonly SmtpReply NeedRecipient = new(503, "5.5.1", "Send RCPT TO first: no valid recipients");
    public static readonly SmtpReply NestedMail = new(503, "5.5.1", "Sender already specified");
    public static readonly SmtpReply DataAfterBdat = new(503, "5.5.1", "DATA is not allowed in a BDAT transaction");
    public static readonly SmtpReply AlreadyTls = new(503, "5.5.1", "TLS already active");
    public static readonly SmtpReply TlsNotAvailable = new(454, "4.7.0", "TLS not available");
    public static readonly SmtpReply EhloNeedsDomain = new(501, "5.5.4", "Syntax: EHLO domain-or-address-literal");
    public static readonly SmtpReply HeloNeedsDomain = new(501, "5.5.4", "Syntax: HELO domain");
    public static readonly SmtpReply NoArguments = new(501, "5.5.4", "Syntax error: no arguments allowed");
    public static readonly SmtpReply MailSyntax = new(501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]");
    public static readonly SmtpReply RcptSyntax = new(501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]");
    public static readonly SmtpReply BdatSyntax = new(501, "5.5.4", "Syntax: BDAT chunk-size [LAST]");
    public static readonly SmtpReply BadSenderAddress = new(501, "5.1.7", "Bad sender address syntax");
    public static readonly SmtpReply BadRecipientAddress = new(501, "5.1.3", "Bad recipient address syntax");
    public static readonly SmtpReply Utf8AddressNeedsSmtpUtf8 = new(553, "5.6.7", "Non-ASCII address requires the SMTPUTF8 parameter on MAIL FROM (RFC 6531)");
    public static readonly SmtpReply TooManyRecipients = new(452, "4.5.3", "Too many recipients");
    public static readonly SmtpReply TooManyErrors = new(421, "4.7.0", "Too many errors, closing connection");
    public static readonly SmtpReply IdleTimeout = new(421, "4.4.2", "Idle timeout, closing connection");
    public static readonly SmtpReply CommandTooSlow = new(421, "4.4.2", "Timeout: the command line did not arrive in time, closing connection");
    public static readonly SmtpReply DataTooSlow = new(421, "4.4.2", "Timeout: message data is arriving too slowly, closing connection");
    public static readonly SmtpReply SessionTooLong = new(421, "4.4.2", "Session time limit reached, closing connection");
    public static readonly SmtpReply Reclaimed = new(421, "4.4.2", "Idle connection closed to make room for another client");
    public static readonly SmtpReply InsufficientStorage = new(452, "4.3.1", "Insufficient system storage");
    public static readonly SmtpReply ShuttingDown = new(421, "4.3.2", "Service shutting down, closing connection");
    public static readonly SmtpReply TooManyConnections = new(421, "4.7.0", "Too many connections, try again later");
    public static readonly SmtpReply TooManyConnectionsFromClient = new(421, "4.7.0", "Too many connections from your address, try again later");
    public static readonly SmtpReply PipelinedAfterStartTls = new(554, "5.5.1", "Refused: commands pipelined after STARTTLS (RFC 3207 section 4.2)");
    public static readonly SmtpReply BareLineEnding = new(550, "5.5.2", "Message refused: bare CR or LF in message data; lines must end with CRLF (RFC 5321 section 2.3.8)");
    public static readonly SmtpReply LocalError = new(451, "4.3.0", "Local error in processing, try again later");

    public static SmtpReply UnsupportedParameter(string name) =>
        new(555, "5.5.4", $"Parameter not supported: {name}");

    public static SmtpReply MessageTooLarge(long limit) =>
        new(552, "5.3.4", $"Message size exceeds fixed maximum message size of {limit} octets");

    public static SmtpReply DataLineTooLong(int limit) =>
        new(500, "5.5.6", $"Message refused: a line exceeds {limit} octets including CRLF (RFC 5321 section 4.5.3.1.6)");

    public static SmtpReply HeaderTooLarge(int limit) =>
        new(552, "5.3.4", $"Message refused: header section exceeds {limit} octets");

    public static SmtpReply Accepted(string messageId) => new(250, "2.0.0", $"Ok {messageId}");
}
