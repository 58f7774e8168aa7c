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
        return IsValidMailbox(address) ? new Result(true, address, parameters, false) : default;
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

    /// <summary>
    /// A mailbox of RFC 5321 §4.1.2 (or RFC 6531 with UTF-8): a dot-string or quoted local part of at most 64 octets,
    /// '@', and a domain or address literal; the whole at most 254 characters (RFC 5321 §4.5.3.1.3, path minus brackets).
    /// </summary>
    public static bool IsValidMailbox(string address)
    {
        if (address.Length > 254)
        {
            return false;
        }

        var at = address.LastIndexOf('@');
        if (at <= 0 || at == address.Length - 1)
        {
            return false;
        }

        var local = address.AsSpan(0, at);
        var domain = address.AsSpan(at + 1);
        return IsValidLocalPart(local) && IsValidDomain(domain);
    }

    private static bool IsValidLocalPart(ReadOnlySpan<char> local)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(local) > 64)
        {
            return false;
        }

        if (local[0] == '"')
        {
            if (local.Length < 2 || local[^1] != '"')
            {
                return false;
            }

            for (var i = 1; i < local.Length - 1; i++)
            {
                var c = local[i];
                if (c == '\\')
                {
                    i++;
                    continue;
                }

                if (c == '"' || c < ' ' || c == '\x7f')
                {
                    return false;
                }
            }

            return true;
        }

        if (local[0] == '.' || local[^1] == '.' || local.IndexOf("..", StringComparison.Ordinal) >= 0)
        {
            return false;
        }

        foreach (var c in local)
        {
            if (c > '\x7f')
            {
                continue;
            }

            if (!char.IsAsciiLetterOrDigit(c) && "!#$%&'*+-/=?^_`{|}~.".IndexOf(c) < 0)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsValidDomain(ReadOnlySpan<char> domain)
    {
        if (domain[0] == '[')
        {
            return domain[^1] == ']' && domain.Length > 2;
        }

        if (domain.Length > 253 || domain[0] == '.' || domain[^1] == '.' || domain.IndexOf("..", StringComparison.Ordinal) >= 0)
        {
            return false;
        }

        foreach (var range in domain.Split('.'))
        {
            var label = domain[range];
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
            {
                return false;
            }

            foreach (var c in label)
            {
                if (c <= '\x7f' && !char.IsAsciiLetterOrDigit(c) && c != '-')
                {
                    return false;
                }
            }
        }

        return true;
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
