namespace Inlet.Rules;

/// <summary>
/// SES recipient conditions: an address (which also matches its <c>+label</c> forms), a domain (not its
/// subdomains), a leading-dot domain (its subdomains, not the domain itself). Comparisons ignore case; SES leaves
/// local-part case undocumented, and mail systems treat it as case-insensitive in practice.
/// </summary>
internal static class RecipientMatcher
{
    /// <summary>True when the rule applies to the recipient: no conditions, or any condition matches.</summary>
    public static bool RuleMatches(ReceiptRule rule, string recipient)
    {
        if (rule.Recipients.IsDefaultOrEmpty)
        {
            return true;
        }

        foreach (var condition in rule.Recipients)
        {
            if (Matches(condition, recipient))
            {
                return true;
            }
        }

        return false;
    }

    public static bool Matches(string condition, string recipient)
    {
        var at = recipient.LastIndexOf('@');
        if (at <= 0)
        {
            return false;
        }

        var domain = recipient.AsSpan(at + 1);
        var cond = condition.AsSpan().Trim();
        var conditionAt = cond.LastIndexOf('@');
        if (conditionAt < 0)
        {
            if (cond.Length > 1 && cond[0] == '.')
            {
                // ".example.com": any subdomain, at any depth, but not example.com itself.
                return domain.Length > cond.Length && domain.EndsWith(cond, StringComparison.OrdinalIgnoreCase);
            }

            return domain.Equals(cond, StringComparison.OrdinalIgnoreCase);
        }

        if (!domain.Equals(cond[(conditionAt + 1)..], StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var local = recipient.AsSpan(0, at);
        var conditionLocal = cond[..conditionAt];
        if (local.Equals(conditionLocal, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        // "user@example.com" also matches "user+label@example.com"; a condition with its own label matches only itself.
        if (conditionLocal.Contains('+'))
        {
            return false;
        }

        var plus = local.IndexOf('+');
        return plus > 0 && local[..plus].Equals(conditionLocal, StringComparison.OrdinalIgnoreCase);
    }
}
