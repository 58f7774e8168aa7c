using System.Globalization;
using System.Text;
using MimeKit;

namespace Inlet.Mail;

/// <summary>
/// Builds SES's <c>mail</c> object from a message's header section: every header in order with its raw value
/// unfolded (CRLF and the folding white space after it become one space), cut off past 10 KB with
/// <c>headersTruncated</c>, and <c>commonHeaders</c> with the fields the message has, decoded.
/// </summary>
internal static class SesMailBuilder
{
    /// <summary>SES truncates the headers of notifications past 10 KB.</summary>
    public const int HeadersLimit = 10 * 1024;

    public static string FormatTimestamp(DateTimeOffset time) =>
        WireTime.IsoMilliseconds(time);

    public static SesMail Build(byte[] headerSection, string messageId, string source, DateTimeOffset receivedAt) =>
        Build(Parse(headerSection), messageId, source, receivedAt);

    /// <summary>
    /// The header fields of a header section. MimeKit's parser refuses a section whose first line is not a field
    /// ("hello", or a body with no header at all), and its cost grows faster than the length of a line without a
    /// colon; callers hand it at most Smtp.MaxHeaderSize octets, and a section it refuses has no fields.
    /// </summary>
    public static HeaderList Parse(byte[] headerSection)
    {
        using var stream = new MemoryStream(headerSection);
        try
        {
            return HeaderList.Load(ParserOptions.Default, stream);
        }
        catch (FormatException)
        {
            return [];
        }
    }

    public static SesMail Build(HeaderList headers, string messageId, string source, DateTimeOffset receivedAt)
    {
        var list = new List<SesHeader>(headers.Count);
        var size = 0;
        var truncated = false;
        foreach (var header in headers)
        {
            var value = Unfold(header.RawValue);
            size += Encoding.UTF8.GetByteCount(header.Field) + Encoding.UTF8.GetByteCount(value) + 4;
            if (size > HeadersLimit)
            {
                truncated = true;
                break;
            }

            list.Add(new SesHeader(header.Field, value));
        }

        var to = Addresses(headers, HeaderId.To);
        var cc = Addresses(headers, HeaderId.Cc);
        var destination = new List<string>();
        foreach (var list2 in new[] { to, cc })
        {
            if (list2 is not null)
            {
                destination.AddRange(list2.Mailboxes.Select(m => m.Address));
            }
        }

        return new SesMail
        {
            Timestamp = FormatTimestamp(receivedAt),
            Source = source,
            MessageId = messageId,
            Destination = destination,
            HeadersTruncated = truncated,
            Headers = list,
            CommonHeaders = new SesCommonHeaders
            {
                ReturnPath = headers.Contains(HeaderId.ReturnPath) ? StripAngles(RawValue(headers, HeaderId.ReturnPath)!) : null,
                From = Display(Addresses(headers, HeaderId.From)),
                Sender = Display(Addresses(headers, HeaderId.Sender))?.FirstOrDefault(),
                ReplyTo = Display(Addresses(headers, HeaderId.ReplyTo)),
                Date = RawValue(headers, HeaderId.Date),
                To = Display(to),
                Cc = Display(cc),
                Bcc = Display(Addresses(headers, HeaderId.Bcc)),
                MessageId = RawValue(headers, HeaderId.MessageId),
                Subject = headers.Contains(HeaderId.Subject) ? headers[HeaderId.Subject] : null,
            },
        };
    }

    /// <summary>RFC 5322 §2.2.3 unfolding, with the folding white space collapsed to one space as SES writes it.</summary>
    internal static string Unfold(byte[] raw)
    {
        var text = DecodeRaw(raw);
        var result = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is '\r' or '\n')
            {
                while (i + 1 < text.Length && text[i + 1] is '\r' or '\n')
                {
                    i++;
                }

                if (i + 1 < text.Length && text[i + 1] is ' ' or '\t')
                {
                    while (i + 1 < text.Length && text[i + 1] is ' ' or '\t')
                    {
                        i++;
                    }

                    result.Append(' ');
                }

                continue;
            }

            result.Append(c);
        }

        return result.ToString().Trim(' ', '\t');
    }

    private static string DecodeRaw(byte[] raw)
    {
        // UTF-8 when it is valid (SMTPUTF8 mail), otherwise Latin-1 so that no byte is lost.
        try
        {
            return new UTF8Encoding(false, true).GetString(raw);
        }
        catch (DecoderFallbackException)
        {
            return Encoding.Latin1.GetString(raw);
        }
    }

    private static string? RawValue(HeaderList headers, HeaderId id)
    {
        var index = headers.IndexOf(id);
        return index < 0 ? null : Unfold(headers[index].RawValue);
    }

    private static string StripAngles(string value)
    {
        var v = value.Trim();
        return v.Length >= 2 && v[0] == '<' && v[^1] == '>' ? v[1..^1] : v;
    }

    private static InternetAddressList? Addresses(HeaderList headers, HeaderId id)
    {
        var index = headers.IndexOf(id);
        if (index < 0)
        {
            return null;
        }

        return InternetAddressList.TryParse(ParserOptions.Default, headers[index].RawValue, out var list) ? list : [];
    }

    /// <summary>Addresses in display form, as SES writes them: <c>Name &lt;address&gt;</c>, or the bare address.</summary>
    private static List<string>? Display(InternetAddressList? list) =>
        list?.Mailboxes.Select(m => string.IsNullOrEmpty(m.Name) ? m.Address : $"{QuoteIfNeeded(m.Name)} <{m.Address}>").ToList();

    /// <summary>A display name is quoted only when it holds RFC 5322 specials, as SES writes <c>"Doe, John" &lt;…&gt;</c>.</summary>
    private static string QuoteIfNeeded(string name) =>
        name.IndexOfAny(['(', ')', '<', '>', '[', ']', ':', ';', '@', '\\', ',', '.', '"']) < 0
            ? name
            : "\"" + name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
