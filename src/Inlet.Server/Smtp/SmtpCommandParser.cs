using System.Buffers;
using System.Text;

namespace Inlet.Smtp;

internal enum LineStatus
{
    /// <summary>No complete line yet; nothing consumed.</summary>
    NeedMore,

    /// <summary>A complete line was found.</summary>
    Line,

    /// <summary>The line exceeds the limit; the caller discards up to the next LF and replies 500 5.5.6.</summary>
    TooLong,
}

/// <summary>
/// Finds command lines in buffered input without doing I/O. A command line ends with LF; a CR before it is
/// removed. Lines are capped before they are parsed (RFC 5321 §4.5.3.1.4), so a client can never make the server
/// buffer more than the limit while it waits for a line end.
/// </summary>
internal static class SmtpLineReader
{
    private const byte Lf = (byte)'\n';
    private const byte Cr = (byte)'\r';

    /// <param name="buffer">The unread input.</param>
    /// <param name="maxLength">The longest line accepted, counting its CRLF.</param>
    /// <param name="line">The line without its line ending, when <see cref="LineStatus.Line"/>.</param>
    /// <param name="consumed">Where the line (with its ending) ends, when <see cref="LineStatus.Line"/>.</param>
    public static LineStatus TryReadLine(ReadOnlySequence<byte> buffer, int maxLength, out ReadOnlySequence<byte> line, out SequencePosition consumed)
    {
        var window = buffer.Length > maxLength ? buffer.Slice(0, maxLength) : buffer;
        var lf = window.PositionOf(Lf);
        if (lf is null)
        {
            line = default;
            consumed = buffer.Start;
            return buffer.Length >= maxLength ? LineStatus.TooLong : LineStatus.NeedMore;
        }

        line = buffer.Slice(0, lf.Value);
        consumed = buffer.GetPosition(1, lf.Value);
        if (line.Length > 0)
        {
            var lastByte = line.Slice(line.Length - 1).FirstSpan[0];
            if (lastByte == Cr)
            {
                line = line.Slice(0, line.Length - 1);
            }
        }

        return LineStatus.Line;
    }

    /// <summary>
    /// Skips input up to and including the next LF, for the rest of a line that was too long. Returns true when the
    /// LF was found; otherwise everything is consumed and the caller keeps discarding.
    /// </summary>
    public static bool TrySkipLine(ReadOnlySequence<byte> buffer, out SequencePosition consumed)
    {
        var lf = buffer.PositionOf(Lf);
        if (lf is null)
        {
            consumed = buffer.End;
            return false;
        }

        consumed = buffer.GetPosition(1, lf.Value);
        return true;
    }
}

/// <summary>Splits a command line into verb and argument (RFC 5321 §4.1.1). Pure.</summary>
internal static class SmtpCommandParser
{
    public static SmtpCommand Parse(ReadOnlySequence<byte> line) =>
        Parse(line.IsSingleSegment ? line.FirstSpan : line.ToArray());

    public static SmtpCommand Parse(ReadOnlySpan<byte> line)
    {
        // Commands are ASCII; arguments may carry UTF-8 addresses when SMTPUTF8 is used (RFC 6531 §3.3).
        var text = Encoding.UTF8.GetString(line);
        var trimmed = text.AsSpan().TrimStart(' ');
        var space = trimmed.IndexOf(' ');
        var verbText = space < 0 ? trimmed : trimmed[..space];
        var argument = space < 0 ? string.Empty : trimmed[(space + 1)..].Trim(' ').ToString();
        var verb = verbText.Length switch
        {
            4 when verbText.Equals("EHLO", StringComparison.OrdinalIgnoreCase) => SmtpVerb.Ehlo,
            4 when verbText.Equals("HELO", StringComparison.OrdinalIgnoreCase) => SmtpVerb.Helo,
            4 when verbText.Equals("MAIL", StringComparison.OrdinalIgnoreCase) => SmtpVerb.Mail,
            4 when verbText.Equals("RCPT", StringComparison.OrdinalIgnoreCase) => SmtpVerb.Rcpt,
            4 when verbText.Equals("DATA", StringComparison.OrdinalIgnoreCase) => SmtpVerb.Data,
            4 when verbText.Equals("BDAT", StringComparison.OrdinalIgnoreCase) => SmtpVerb.Bdat,
            4 when verbText.Equals("RSET", StringComparison.OrdinalIgnoreCase) => SmtpVerb.Rset,
            4 when verbText.Equals("NOOP", StringComparison.OrdinalIgnoreCase) => SmtpVerb.Noop,
            4 when verbText.Equals("QUIT", StringComparison.OrdinalIgnoreCase) => SmtpVerb.Quit,
            4 when verbText.Equals("VRFY", StringComparison.OrdinalIgnoreCase) => SmtpVerb.Vrfy,
            4 when verbText.Equals("HELP", StringComparison.OrdinalIgnoreCase) => SmtpVerb.Help,
            4 when verbText.Equals("EXPN", StringComparison.OrdinalIgnoreCase) => SmtpVerb.Expn,
            4 when verbText.Equals("AUTH", StringComparison.OrdinalIgnoreCase) => SmtpVerb.Auth,
            8 when verbText.Equals("STARTTLS", StringComparison.OrdinalIgnoreCase) => SmtpVerb.StartTls,
            _ => SmtpVerb.Unknown,
        };
        return new SmtpCommand(verb, argument, verbText.ToString());
    }
}
