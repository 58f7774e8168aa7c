using System.Globalization;
using System.Xml;
using Inlet.Management;
using Inlet.Rules;
using Microsoft.AspNetCore.Http;

namespace Inlet.Api;

/// <summary>SES's receipt operations over the Query protocol (2010-12-01), with SES's XML, codes and messages.</summary>
internal static class SesQueryApi
{
    public const string Namespace = "http://ses.amazonaws.com/doc/2010-12-01/";
    public const string Version = "2010-12-01";

    public static async Task<IResult> HandleAsync(QueryRequest q, ReceiptRulesService rules, CancellationToken ct)
    {
        var action = q.Action!;
        try
        {
            switch (action)
            {
                case "CreateReceiptRuleSet":
                    await rules.CreateRuleSetAsync(q.Get("RuleSetName"), ct);
                    return Empty(action);
                case "CloneReceiptRuleSet":
                    await rules.CloneRuleSetAsync(q.Get("RuleSetName"), q.Get("OriginalRuleSetName"), ct);
                    return Empty(action);
                case "DeleteReceiptRuleSet":
                    await rules.DeleteRuleSetAsync(q.Get("RuleSetName"), ct);
                    return Empty(action);
                case "DescribeReceiptRuleSet":
                {
                    var set = rules.GetRuleSet(q.Get("RuleSetName"));
                    return QueryXml.Ok(action, Namespace, w => WriteRuleSet(w, set));
                }

                case "DescribeActiveReceiptRuleSet":
                {
                    var active = rules.Configuration.ActiveRuleSet;
                    return QueryXml.Ok(action, Namespace, w =>
                    {
                        if (active is not null)
                        {
                            WriteRuleSet(w, active);
                        }
                    });
                }

                case "ListReceiptRuleSets":
                {
                    var all = rules.Configuration.RuleSets.OrderBy(s => s.CreatedTimestamp).ThenBy(s => s.Name, StringComparer.Ordinal).ToList();
                    var start = int.TryParse(q.Get("NextToken"), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : 0;
                    var page = all.Skip(start).Take(100).ToList();
                    return QueryXml.Ok(action, Namespace, w =>
                    {
                        QueryXml.Members(w, "RuleSets", page, (x, set) =>
                        {
                            x.WriteElementString("Name", set.Name);
                            x.WriteElementString("CreatedTimestamp", QueryXml.Timestamp(set.CreatedTimestamp));
                        });
                        if (start + 100 < all.Count)
                        {
                            w.WriteElementString("NextToken", (start + 100).ToString(CultureInfo.InvariantCulture));
                        }
                    });
                }

                case "SetActiveReceiptRuleSet":
                    await rules.SetActiveAsync(string.IsNullOrEmpty(q.Get("RuleSetName")) ? null : q.Get("RuleSetName"), ct);
                    return Empty(action);
                case "ReorderReceiptRuleSet":
                    await rules.ReorderAsync(q.Get("RuleSetName"), q.List("RuleNames"), ct);
                    return Empty(action);
                case "CreateReceiptRule":
                    await rules.CreateRuleAsync(Required(q, "RuleSetName", "ruleSetName"), ParseRule(q), q.Get("After"), ct);
                    return Empty(action);
                case "UpdateReceiptRule":
                    await rules.UpdateRuleAsync(Required(q, "RuleSetName", "ruleSetName"), ParseRule(q), ct);
                    return Empty(action);
                case "DeleteReceiptRule":
                    await rules.DeleteRuleAsync(q.Get("RuleSetName"), q.Get("RuleName"), ct);
                    return Empty(action);
                case "DescribeReceiptRule":
                {
                    var rule = rules.GetRule(q.Get("RuleSetName"), q.Get("RuleName"));
                    return QueryXml.Ok(action, Namespace, w =>
                    {
                        w.WriteStartElement("Rule");
                        WriteRuleBody(w, rule);
                        w.WriteEndElement();
                    });
                }

                case "SetReceiptRulePosition":
                    await rules.SetRulePositionAsync(q.Get("RuleSetName"), q.Get("RuleName"), q.Get("After"), ct);
                    return Empty(action);
                case "CreateReceiptFilter":
                {
                    var policy = q.Get("Filter.IpFilter.Policy");
                    if (policy is not ("Block" or "Allow"))
                    {
                        throw new ReceiptException("ValidationError", $"1 validation error detected: Value '{policy}' at 'filter.ipFilter.policy' failed to satisfy constraint: Member must satisfy enum value set: [Block, Allow]");
                    }

                    var filter = new ReceiptFilter(q.Get("Filter.Name") ?? string.Empty, policy == "Allow" ? IpFilterPolicy.Allow : IpFilterPolicy.Block, q.Get("Filter.IpFilter.Cidr") ?? string.Empty);
                    await rules.CreateFilterAsync(filter, ct);
                    return Empty(action);
                }

                case "DeleteReceiptFilter":
                    await rules.DeleteFilterAsync(q.Get("FilterName"), ct);
                    return Empty(action);
                case "ListReceiptFilters":
                {
                    var filters = rules.Configuration.Filters.OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
                    return QueryXml.Ok(action, Namespace, w => QueryXml.Members(w, "Filters", filters, (x, f) =>
                    {
                        x.WriteElementString("Name", f.Name);
                        x.WriteStartElement("IpFilter");
                        x.WriteElementString("Policy", f.Policy.ToString());
                        x.WriteElementString("Cidr", f.Cidr);
                        x.WriteEndElement();
                    }));
                }

                default:
                    return QueryXml.Error(Namespace, "InvalidAction", $"The action {action} is not valid for this endpoint.", 400);
            }
        }
        catch (ReceiptException e)
        {
            return QueryXml.Error(Namespace, e.Code, e.Message, 400);
        }
    }

    private static IResult Empty(string action) => QueryXml.Ok(action, Namespace, _ => { });

    private static string Required(QueryRequest q, string name, string member) =>
        q.Get(name) ?? throw new ReceiptException("ValidationError", $"1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null");

    /// <summary>A rule from <c>Rule.Name</c>, <c>Rule.Recipients.member.N</c>, <c>Rule.Actions.member.N.S3Action.BucketName</c>, ….</summary>
    private static ReceiptRule ParseRule(QueryRequest q)
    {
        var tls = q.Get("Rule.TlsPolicy") ?? "Optional";
        if (tls is not ("Require" or "Optional"))
        {
            throw new ReceiptException("ValidationError", $"1 validation error detected: Value '{tls}' at 'rule.tlsPolicy' failed to satisfy constraint: Member must satisfy enum value set: [Require, Optional]");
        }

        var actions = new List<ReceiptAction>();
        for (var i = 1; ; i++)
        {
            var fields = q.Under($"Rule.Actions.member.{i}");
            if (fields.Count == 0)
            {
                break;
            }

            var members = fields.Keys.Select(k => k.Split('.')[0]).Distinct().ToList();
            if (members.Count != 1)
            {
                throw new ReceiptException("InvalidParameterValue", $"Rule.Actions.member.{i} must hold exactly one action type (found {string.Join(", ", members)})");
            }

            var member = members[0];
            var values = fields.ToDictionary(f => f.Key[(member.Length + 1)..], f => (string?)f.Value);
            var action = ReceiptValidation.Create(member, values, out var error);
            if (error is not null)
            {
                throw ReceiptException.From(error);
            }

            actions.Add(action);
        }

        return new ReceiptRule
        {
            Name = q.Get("Rule.Name") ?? string.Empty,
            Enabled = q.GetBool("Rule.Enabled"),
            TlsPolicy = tls == "Require" ? TlsPolicy.Require : TlsPolicy.Optional,
            Recipients = [.. q.List("Rule.Recipients")],
            ScanEnabled = q.GetBool("Rule.ScanEnabled"),
            Actions = [.. actions],
        };
    }

    private static void WriteRuleSet(XmlWriter w, ReceiptRuleSet set)
    {
        w.WriteStartElement("Metadata");
        w.WriteElementString("Name", set.Name);
        w.WriteElementString("CreatedTimestamp", QueryXml.Timestamp(set.CreatedTimestamp));
        w.WriteEndElement();
        QueryXml.Members(w, "Rules", set.Rules, WriteRuleBody);
    }

    private static void WriteRuleBody(XmlWriter w, ReceiptRule rule)
    {
        w.WriteElementString("Name", rule.Name);
        w.WriteElementString("Enabled", rule.Enabled ? "true" : "false");
        w.WriteElementString("TlsPolicy", rule.TlsPolicy.ToString());
        w.WriteElementString("ScanEnabled", rule.ScanEnabled ? "true" : "false");
        if (rule.Recipients.Length > 0)
        {
            QueryXml.Members(w, "Recipients", rule.Recipients, (x, r) => x.WriteString(r));
        }

        QueryXml.Members(w, "Actions", rule.Actions, (x, action) =>
        {
            x.WriteStartElement(action.MemberName);
            foreach (var (name, value) in ReceiptActionKinds.Of(action).Fields(action))
            {
                if (value is not null)
                {
                    x.WriteElementString(name, value);
                }
            }

            x.WriteEndElement();
        });
    }
}
