namespace Inlet.Management;

/// <summary>
/// How the evaluation of a message ended, read from its trace: <c>stop-rule-set</c> (a Lambda disposition or a
/// Stop action cut the rule set short), <c>all-rules-ran</c>, <c>no-rule</c> (no rule applied), <c>rejected</c>
/// (inline mode turned it away) — for the latest run only, when a message was replayed.
/// </summary>
internal sealed record MessageEnding(string Disposition, string? Rule, string? ActionType, int RulesRun, string Detail)
{
    public static MessageEnding? From(IReadOnlyList<TraceEntry> trace)
    {
        var start = 0;
        for (var i = trace.Count - 1; i >= 0; i--)
        {
            if (trace[i].Kind == "note")
            {
                start = i + 1;
                break;
            }
        }

        TraceEntry? stop = null;
        var rules = 0;
        var received = false;
        for (var i = start; i < trace.Count; i++)
        {
            var entry = trace[i];
            switch (entry.Kind)
            {
                case "received":
                    received = true;
                    break;
                case "rule":
                    rules++;
                    break;
                case "action" when entry.Outcome == "stop-rule-set":
                    stop = entry;
                    break;
                case "end":
                    var detail = entry.Detail ?? string.Empty;
                    if (stop is not null)
                    {
                        return new MessageEnding("stop-rule-set", stop.Rule, stop.ActionType, rules, detail);
                    }

                    var disposition = detail.StartsWith("inline processing stopped", StringComparison.Ordinal) || (!received && rules == 0) ? "rejected"
                        : rules == 0 ? "no-rule"
                        : "all-rules-ran";
                    return new MessageEnding(disposition, null, null, rules, detail);
            }
        }

        return null;
    }
}
