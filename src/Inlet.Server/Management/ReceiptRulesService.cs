using System.Collections.Immutable;
using Inlet.Functions;
using Inlet.Notifications;
using Inlet.Processing;
using Inlet.Rules;
using Inlet.Storage;

namespace Inlet.Management;

/// <summary>An SES API refusal: the wire code and its message.</summary>
internal sealed class ReceiptException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;

    public static ReceiptException From(ReceiptError error) => new(error.Code, error.Message);
}

/// <summary>
/// The SES receipt operations on the configuration in force: each change is checked as SES checks it (names,
/// limits, targets that must exist), becomes a new configuration version, is saved, and applies to the next
/// message. Changes are serialised; readers always see a whole version.
/// </summary>
internal sealed class ReceiptRulesService(
    ReceiptConfigurationProvider current,
    ReceiptConfigurationStore store,
    FunctionRegistry functions,
    SnsService sns,
    BlobStores blobs,
    TimeProvider time)
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public ReceiptConfiguration Configuration => current.Current.Configuration;

    public ReceiptRuleSet GetRuleSet(string? name) =>
        Configuration.RuleSets.FirstOrDefault(s => s.Name == name) ?? throw new ReceiptException("RuleSetDoesNotExist", $"Rule set does not exist: {name}");

    public ReceiptRule GetRule(string? setName, string? ruleName) =>
        GetRuleSet(setName).Rules.FirstOrDefault(r => r.Name == ruleName) ?? throw new ReceiptException("RuleDoesNotExist", $"Rule does not exist: {ruleName}");

    private Task ChangeAsync(Func<ReceiptConfiguration, ReceiptConfiguration> change, CancellationToken cancellationToken) =>
        SaveAsync(c => change(c), cancellationToken);

    /// <summary>
    /// Makes a change on the version in force and saves it. When another node saved a version meanwhile, the change
    /// is made again on that one — so neither change is lost, and a change the other made impossible (the rule now
    /// exists, the set is gone) is refused with SES's error, as it would be had they come one after the other.
    /// </summary>
    private async Task<ReceiptConfiguration?> SaveAsync(Func<ReceiptConfiguration, ReceiptConfiguration?> change, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                if (change(Configuration) is not { } changed)
                {
                    return null;
                }

                try
                {
                    return await store.SaveAsync(changed, cancellationToken);
                }
                catch (ConfigurationConflictException) when (attempt < 10)
                {
                    await store.RefreshAsync(cancellationToken);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Applies a configuration file's rule sets, filters and active rule set on top of what is in force (the
    /// file wins for the same names). Returns the new configuration, or null when the file changes nothing.
    /// </summary>
    public Task<ReceiptConfiguration?> ApplyFileAsync(ReceiptConfiguration file, bool activeDeclared, CancellationToken cancellationToken) =>
        SaveAsync(c =>
        {
            var merged = c.WithFile(file, activeDeclared);
            return RulesJsonContext.Serialize(merged) == RulesJsonContext.Serialize(c) ? null : merged;
        }, cancellationToken);

    private static ReceiptConfiguration ReplaceSet(ReceiptConfiguration c, ReceiptRuleSet set) =>
        c with { RuleSets = c.RuleSets.Select(s => s.Name == set.Name ? set : s).ToImmutableArray() };

    public Task CreateRuleSetAsync(string? name, CancellationToken ct)
    {
        Check(ReceiptValidation.CheckRuleSetName(name));
        return ChangeAsync(c =>
        {
            if (c.RuleSets.Any(s => s.Name == name))
            {
                throw new ReceiptException("AlreadyExists", $"Rule set already exists: {name}");
            }

            if (c.RuleSets.Length >= ReceiptValidation.MaxRuleSets)
            {
                throw new ReceiptException("LimitExceeded", $"Too many rule sets: at most {ReceiptValidation.MaxRuleSets}");
            }

            return c with { RuleSets = c.RuleSets.Add(new ReceiptRuleSet { Name = name!, CreatedTimestamp = time.GetUtcNow() }) };
        }, ct);
    }

    public Task CloneRuleSetAsync(string? name, string? original, CancellationToken ct)
    {
        Check(ReceiptValidation.CheckRuleSetName(name));
        return ChangeAsync(c =>
        {
            var source = c.RuleSets.FirstOrDefault(s => s.Name == original) ?? throw new ReceiptException("RuleSetDoesNotExist", $"Rule set does not exist: {original}");
            if (c.RuleSets.Any(s => s.Name == name))
            {
                throw new ReceiptException("AlreadyExists", $"Rule set already exists: {name}");
            }

            if (c.RuleSets.Length >= ReceiptValidation.MaxRuleSets)
            {
                throw new ReceiptException("LimitExceeded", $"Too many rule sets: at most {ReceiptValidation.MaxRuleSets}");
            }

            return c with { RuleSets = c.RuleSets.Add(source with { Name = name!, CreatedTimestamp = time.GetUtcNow() }) };
        }, ct);
    }

    /// <summary>Deleting a rule set that does not exist succeeds, as SES does; the active one cannot be deleted.</summary>
    public Task DeleteRuleSetAsync(string? name, CancellationToken ct) => ChangeAsync(c =>
    {
        if (c.ActiveRuleSetName == name)
        {
            throw new ReceiptException("CannotDelete", $"Cannot delete active rule set: {name}");
        }

        return c with { RuleSets = c.RuleSets.Where(s => s.Name != name).ToImmutableArray() };
    }, ct);

    /// <summary>A null name disables receiving.</summary>
    public Task SetActiveAsync(string? name, CancellationToken ct) => ChangeAsync(c =>
    {
        if (name is not null && c.RuleSets.All(s => s.Name != name))
        {
            throw new ReceiptException("RuleSetDoesNotExist", $"Rule set does not exist: {name}");
        }

        return c with { ActiveRuleSetName = name };
    }, ct);

    public Task ReorderAsync(string? setName, IReadOnlyList<string> names, CancellationToken ct) => ChangeAsync(c =>
    {
        var set = c.RuleSets.FirstOrDefault(s => s.Name == setName) ?? throw new ReceiptException("RuleSetDoesNotExist", $"Rule set does not exist: {setName}");
        foreach (var name in names)
        {
            if (set.Rules.All(r => r.Name != name))
            {
                throw new ReceiptException("RuleDoesNotExist", $"Rule does not exist: {name}");
            }
        }

        if (names.Count != set.Rules.Length || names.Distinct().Count() != names.Count)
        {
            throw new ReceiptException("InvalidParameterValue", $"The reorder request must name every rule of rule set {setName} exactly once ({set.Rules.Length} rules)");
        }

        return ReplaceSet(c, set with { Rules = names.Select(n => set.Rules.First(r => r.Name == n)).ToImmutableArray() });
    }, ct);

    public async Task CreateRuleAsync(string? setName, ReceiptRule rule, string? after, CancellationToken ct)
    {
        await CheckRuleAsync(rule, ct);
        await ChangeAsync(c =>
        {
            var set = c.RuleSets.FirstOrDefault(s => s.Name == setName) ?? throw new ReceiptException("RuleSetDoesNotExist", $"Rule set does not exist: {setName}");
            if (set.Rules.Any(r => r.Name == rule.Name))
            {
                throw new ReceiptException("AlreadyExists", $"Rule already exists: {rule.Name}");
            }

            if (set.Rules.Length >= ReceiptValidation.MaxRulesPerSet)
            {
                throw new ReceiptException("LimitExceeded", $"Too many rules in rule set {setName}: at most {ReceiptValidation.MaxRulesPerSet}");
            }

            // No After (or an empty one) puts the rule first.
            var index = 0;
            if (!string.IsNullOrEmpty(after))
            {
                index = set.Rules.Select((r, i) => (r, i)).FirstOrDefault(x => x.r.Name == after, (null!, -1)).Item2 + 1;
                if (index == 0)
                {
                    throw new ReceiptException("RuleDoesNotExist", $"Rule does not exist: {after}");
                }
            }

            return ReplaceSet(c, set with { Rules = set.Rules.Insert(index, rule) });
        }, ct);
    }

    public async Task UpdateRuleAsync(string? setName, ReceiptRule rule, CancellationToken ct)
    {
        await CheckRuleAsync(rule, ct);
        await ChangeAsync(c =>
        {
            var set = c.RuleSets.FirstOrDefault(s => s.Name == setName) ?? throw new ReceiptException("RuleSetDoesNotExist", $"Rule set does not exist: {setName}");
            if (set.Rules.All(r => r.Name != rule.Name))
            {
                throw new ReceiptException("RuleDoesNotExist", $"Rule does not exist: {rule.Name}");
            }

            return ReplaceSet(c, set with { Rules = set.Rules.Select(r => r.Name == rule.Name ? rule : r).ToImmutableArray() });
        }, ct);
    }

    /// <summary>Deleting a rule that does not exist in an existing set succeeds, as SES does.</summary>
    public Task DeleteRuleAsync(string? setName, string? ruleName, CancellationToken ct) => ChangeAsync(c =>
    {
        var set = c.RuleSets.FirstOrDefault(s => s.Name == setName) ?? throw new ReceiptException("RuleSetDoesNotExist", $"Rule set does not exist: {setName}");
        return ReplaceSet(c, set with { Rules = set.Rules.Where(r => r.Name != ruleName).ToImmutableArray() });
    }, ct);

    public Task SetRulePositionAsync(string? setName, string? ruleName, string? after, CancellationToken ct) => ChangeAsync(c =>
    {
        var set = c.RuleSets.FirstOrDefault(s => s.Name == setName) ?? throw new ReceiptException("RuleSetDoesNotExist", $"Rule set does not exist: {setName}");
        var rule = set.Rules.FirstOrDefault(r => r.Name == ruleName) ?? throw new ReceiptException("RuleDoesNotExist", $"Rule does not exist: {ruleName}");
        if (after == ruleName)
        {
            return c;
        }

        var rest = set.Rules.Remove(rule);
        var index = 0;
        if (!string.IsNullOrEmpty(after))
        {
            index = rest.Select((r, i) => (r, i)).FirstOrDefault(x => x.r.Name == after, (null!, -1)).Item2 + 1;
            if (index == 0)
            {
                throw new ReceiptException("RuleDoesNotExist", $"Rule does not exist: {after}");
            }
        }

        return ReplaceSet(c, set with { Rules = rest.Insert(index, rule) });
    }, ct);

    public Task CreateFilterAsync(ReceiptFilter filter, CancellationToken ct)
    {
        Check(ReceiptValidation.CheckFilter(filter));
        return ChangeAsync(c =>
        {
            if (c.Filters.Any(f => f.Name == filter.Name))
            {
                throw new ReceiptException("AlreadyExists", $"Filter already exists: {filter.Name}");
            }

            if (c.Filters.Length >= ReceiptValidation.MaxFilters)
            {
                throw new ReceiptException("LimitExceeded", "Too many filters");
            }

            return c with { Filters = c.Filters.Add(filter) };
        }, ct);
    }

    public Task DeleteFilterAsync(string? name, CancellationToken ct) =>
        ChangeAsync(c => c with { Filters = c.Filters.Where(f => f.Name != name).ToImmutableArray() }, ct);

    /// <summary>SES checks a rule's targets when it is created: the function, the topics and the bucket must exist.</summary>
    private async Task CheckRuleAsync(ReceiptRule rule, CancellationToken ct)
    {
        Check(ReceiptValidation.CheckRule(rule));
        foreach (var action in rule.Actions)
        {
            if (action is LambdaReceiptAction lambda && functions.Resolve(lambda.FunctionArn) is null)
            {
                throw new ReceiptException("InvalidLambdaFunction", $"Could not invoke Lambda function: {lambda.FunctionArn} ({functions.NotFoundMessage(lambda.FunctionArn)})");
            }

            if (action.NotifiedTopicArn is { } topic && sns.FindTopic(topic) is null)
            {
                throw new ReceiptException("InvalidSnsTopic", $"Could not publish to SNS topic: {topic} (the topic does not exist)");
            }

            if (action is S3ReceiptAction s3 && !await blobs.Buckets.ContainerExistsAsync(s3.BucketName, ct))
            {
                throw new ReceiptException("InvalidS3Configuration", $"Could not write to bucket: {s3.BucketName} (the bucket does not exist)");
            }
        }
    }

    private static void Check(ReceiptError? error)
    {
        if (error is not null)
        {
            throw ReceiptException.From(error);
        }
    }
}
