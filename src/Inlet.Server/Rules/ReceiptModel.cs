using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace Inlet.Rules;

[JsonConverter(typeof(JsonStringEnumConverter<TlsPolicy>))]
internal enum TlsPolicy
{
    Optional,
    Require,
}

[JsonConverter(typeof(JsonStringEnumConverter<IpFilterPolicy>))]
internal enum IpFilterPolicy
{
    Block,
    Allow,
}

/// <summary>A receipt rule in the shape of the SES API's <c>ReceiptRule</c>.</summary>
internal sealed record ReceiptRule
{
    public required string Name { get; init; }

    /// <summary>SES's default is false: a rule must be enabled explicitly.</summary>
    public bool Enabled { get; init; }

    public TlsPolicy TlsPolicy { get; init; } = TlsPolicy.Optional;

    /// <summary>Recipient conditions; empty matches every recipient.</summary>
    public ImmutableArray<string> Recipients { get; init; } = [];

    public ImmutableArray<ReceiptAction> Actions { get; init; } = [];

    public bool ScanEnabled { get; init; }
}

/// <summary>A named, ordered list of rules (SES <c>ReceiptRuleSet</c>).</summary>
internal sealed record ReceiptRuleSet
{
    public required string Name { get; init; }

    public DateTimeOffset CreatedTimestamp { get; init; } = DateTimeOffset.UnixEpoch;

    public ImmutableArray<ReceiptRule> Rules { get; init; } = [];
}

/// <summary>An account-level IP address filter (SES <c>ReceiptFilter</c>).</summary>
internal sealed record ReceiptFilter(string Name, IpFilterPolicy Policy, string Cidr);

/// <summary>
/// Everything that decides what happens to mail, as one immutable snapshot: rule sets, which one is active, and
/// the IP filters. <see cref="Version"/> increases with every change; a message records the version it arrived
/// under, so that it is always evaluated against the rules in force at that moment.
/// </summary>
internal sealed record ReceiptConfiguration
{
    public long Version { get; init; }

    public ImmutableArray<ReceiptRuleSet> RuleSets { get; init; } = [];

    public string? ActiveRuleSetName { get; init; }

    public ImmutableArray<ReceiptFilter> Filters { get; init; } = [];

    [JsonIgnore]
    public ReceiptRuleSet? ActiveRuleSet =>
        ActiveRuleSetName is null ? null : RuleSets.FirstOrDefault(s => s.Name == ActiveRuleSetName);

    public static ReceiptConfiguration Empty { get; } = new();

    /// <summary>
    /// This configuration with a configuration file's declarations on top: the file's rule sets and filters replace
    /// the ones of the same name, the others are kept (they may have been made through the API). The file's active
    /// rule set wins when the file names one; otherwise the active set stays (or, the first time, is the file's).
    /// </summary>
    public ReceiptConfiguration WithFile(ReceiptConfiguration file, bool activeDeclared)
    {
        var sets = RuleSets.Select(s => file.RuleSets.FirstOrDefault(f => f.Name == s.Name) ?? s).ToList();
        sets.AddRange(file.RuleSets.Where(f => RuleSets.All(s => s.Name != f.Name)));
        var filters = Filters.Select(s => file.Filters.FirstOrDefault(f => f.Name == s.Name) ?? s).ToList();
        filters.AddRange(file.Filters.Where(f => Filters.All(s => s.Name != f.Name)));
        var active = activeDeclared ? file.ActiveRuleSetName
            : ActiveRuleSetName is { } a && sets.Any(s => s.Name == a) ? a
            : file.ActiveRuleSetName;
        return this with { RuleSets = [.. sets], Filters = [.. filters], ActiveRuleSetName = active };
    }
}
