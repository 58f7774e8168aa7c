namespace Inlet.Rules;

internal enum RecipientDecision
{
    Accept,

    /// <summary>No enabled rule of the active set matches, or no rule set is active.</summary>
    NoMatchingRule,

    /// <summary>Every matching rule has TlsPolicy Require and the session is not under TLS.</summary>
    TlsRequired,
}

/// <summary>Whether the active rule set accepts a recipient at RCPT time. Pure.</summary>
internal static class RecipientAcceptance
{
    public static RecipientDecision Decide(ReceiptRuleSet? activeRuleSet, string recipient, bool isSecure)
    {
        if (activeRuleSet is null)
        {
            return RecipientDecision.NoMatchingRule;
        }

        var matched = false;
        foreach (var rule in activeRuleSet.Rules)
        {
            if (!rule.Enabled || !RecipientMatcher.RuleMatches(rule, recipient))
            {
                continue;
            }

            if (isSecure || rule.TlsPolicy == TlsPolicy.Optional)
            {
                return RecipientDecision.Accept;
            }

            matched = true;
        }

        return matched ? RecipientDecision.TlsRequired : RecipientDecision.NoMatchingRule;
    }
}
