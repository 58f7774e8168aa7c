namespace Inlet.Core;

/// <summary>
/// The syntax of a mailbox, shared by the SMTP paths, the Bounce action's sender and SES sending. No I/O: a string in,
/// a yes or no out.
/// </summary>
internal static class MailboxSyntax
{
    /// <summary>
    /// A mailbox of RFC 5321 §4.1.2 (or RFC 6531 with UTF-8): a dot-string or quoted local part of at most 64 octets,
    /// '@', and a domain or address literal; the whole at most 254 characters (RFC 5321 §4.5.3.1.3, path minus brackets).
    /// </summary>
    public static bool IsValid(string address)
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
}
