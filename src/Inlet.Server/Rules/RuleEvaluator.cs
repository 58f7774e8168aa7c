namespace Inlet.Rules;

/// <summary>A rule that applies to a message, with the envelope recipients it matched (<c>receipt.recipients</c>).</summary>
internal sealed record PlannedRule(int Position, ReceiptRule Rule, IReadOnlyList<string> Recipients);

/// <summary>
/// Which rules of a rule set apply to a message, in order: enabled rules that match at least one envelope
/// recipient (a rule without conditions matches them all). A rule with TlsPolicy Require does not apply to a
/// message that did not arrive over TLS. Pure: what the actions then do is the pipeline's business.
/// </summary>
internal static class RuleEvaluator
{
    public static IReadOnlyList<PlannedRule> Plan(ReceiptRuleSet? ruleSet, IReadOnlyList<string> recipients, bool receivedOverTls)
    {
        if (ruleSet is null)
        {
            return [];
        }

        var plan = new List<PlannedRule>();
        for (var i = 0; i < ruleSet.Rules.Length; i++)
        {
            var rule = ruleSet.Rules[i];
            if (!rule.Enabled || (rule.TlsPolicy == TlsPolicy.Require && !receivedOverTls))
            {
                continue;
            }

            List<string>? matched = null;
            foreach (var recipient in recipients)
            {
                if (RecipientMatcher.RuleMatches(rule, recipient))
                {
                    (matched ??= []).Add(recipient);
                }
            }

            if (matched is not null)
            {
                plan.Add(new PlannedRule(i, rule, matched));
            }
        }

        return plan;
    }
}
