namespace Inlet.Smtp;

/// <summary>An ESMTP parameter of MAIL or RCPT (RFC 5321 §4.1.2 esmtp-param): keyword and optional value.</summary>
internal readonly record struct SmtpParameter(string Keyword, string? Value);

/// <summary>
/// Parses the arguments of MAIL FROM and RCPT TO (RFC 5321 §4.1.2): <c>FROM:&lt;path&gt; [params]</c>. Pure.
/// A source route (<c>&lt;@a,@b:user@c&gt;</c>) is accepted and dropped, as RFC 5321 Appendix C allows.
/// </summary>
internal static class SmtpPathParser
{
    public readonly record struct Result(bool Ok, string Address, IReadOnlyList<SmtpParameter> Parameters, bool IsNullPath);

    public static Result Parse(string argument, string prefix, bool allowNullPath)
    {
        // Many clients write "MAIL FROM: <a@b>" with a space; accept it, as Postfix and Exim do.
        if (!argument.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            return default;
        }

        var rest = argument.AsSpan(prefix.Length).TrimStart(' ');
        if (rest.Length == 0 || rest[0] != '<')
        {
            return default;
        }

        var close = FindClosingBracket(rest);
        if (close < 0)
        {
            return default;
        }

        var inner = rest[1..close];
        var parameters = ParseParameters(rest[(close + 1)..]);
        if (parameters is null)
        {
            return default;
        }

        if (inner.Length == 0)
        {
            return allowNullPath ? new Result(true, string.Empty, parameters, true) : default;
        }

        if (inner[0] == '@')
        {
            var colon = inner.IndexOf(':');
            if (colon < 0)
            {
                return default;
            }

            inner = inner[(colon + 1)..];
        }

        var address = inner.ToString();
        return MailboxSyntax.IsValid(address) ? new Result(true, address, parameters, false) : default;
    }

    /// <summary>The closing '&gt;', skipping any inside a quoted local part.</summary>
    private static int FindClosingBracket(ReadOnlySpan<char> text)
    {
        var quoted = false;
        for (var i = 1; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted && c == '\\')
            {
                i++;
            }
            else if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == '>' && !quoted)
            {
                return i;
            }
        }

        return -1;
    }

    private static List<SmtpParameter>? ParseParameters(ReadOnlySpan<char> text)
    {
        var list = new List<SmtpParameter>();
        if (text.Length > 0 && text[0] != ' ')
        {
            return null;
        }

        foreach (var range in text.Split(' '))
        {
            var token = text[range];
            if (token.Length == 0)
            {
                continue;
            }

            var eq = token.IndexOf('=');
            var keyword = eq < 0 ? token : token[..eq];
            if (keyword.Length == 0 || !IsKeyword(keyword))
            {
                return null;
            }

            list.Add(new SmtpParameter(keyword.ToString().ToUpperInvariant(), eq < 0 ? null : token[(eq + 1)..].ToString()));
        }

        return list;
    }

    private static bool IsKeyword(ReadOnlySpan<char> keyword)
    {
        foreach (var c in keyword)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '-')
            {
                return false;
            }
        }

        return char.IsAsciiLetterOrDigit(keyword[0]);
    }

    public static bool IsAscii(string text)
    {
        foreach (var c in text)
        {
            if (c > '\x7f')
            {
                return false;
            }
        }

        return true;
    }
}
