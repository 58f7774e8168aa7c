using Inlet.Functions;
using Inlet.Notifications;
using Inlet.Management;
using Inlet.Processing;
using Inlet.Rules;
using Inlet.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Inlet.Hosting;

/// <summary>
/// Watches the configuration file <c>inlet serve</c> was started with and applies a valid change at once: rule
/// sets, filters and the active rule set (the file wins for the same names, as at start), functions and topics.
/// An invalid file is logged with its error and the running configuration stays. Settings that are bound at start
/// (listeners, data folder, credentials, limits) are reported as needing a restart.
/// </summary>
internal sealed partial class ConfigurationWatcher(
    string path,
    ReceiptRulesService rules,
    FunctionRegistry functions,
    FunctionStore functionStore,
    SnsService sns,
    ILogger<ConfigurationWatcher> logger) : BackgroundService
{
    /// <summary>How often the file is looked at. Polling sees every kind of save (in place, rename, a new inode).</summary>
    internal static TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var seen = Read();
        InletOptions? applied = null;
        try
        {
            applied = ConfigurationLoader.LoadFile(path);
        }
        catch (ConfigurationException)
        {
            // The server started from this file a moment ago; a later valid version is compared with nothing.
        }

        using var timer = new PeriodicTimer(PollInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            var text = Read();
            if (text is null || text == seen)
            {
                continue;
            }

            seen = text;
            InletOptions next;
            try
            {
                next = ConfigurationLoader.Load(text, path);
            }
            catch (ConfigurationException e)
            {
                LogInvalid(logger, e.Message);
                continue;
            }

            try
            {
                var changes = await ApplyAsync(applied, next, stoppingToken).ConfigureAwait(false);
                applied = next;
                LogApplied(logger, path, changes.Count == 0 ? "nothing that is in force changed" : string.Join("; ", changes));
            }
            catch (Exception e) when (e is ConfigurationException or SnsException or ReceiptException or IOException or InvalidDataException)
            {
                LogInvalid(logger, $"{path}: {e.Message}");
            }
        }
    }

    private string? Read()
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Mid-save, or removed: the next look decides.
            return null;
        }
    }

    /// <summary>Applies what can change while running; returns one phrase per change, for the log.</summary>
    internal async Task<List<string>> ApplyAsync(InletOptions? previous, InletOptions next, CancellationToken cancellationToken)
    {
        var changes = new List<string>();

        // Topics first: rules may name a new topic, and must not name a missing one (SES's InvalidSnsTopic).
        var newTopics = next.Topics.Where(t => sns.FindTopic(sns.TopicArn(t.Name)) is null).Select(t => t.Name).ToList();
        await sns.ApplyTopicsAsync(next.Topics, cancellationToken).ConfigureAwait(false);
        changes.AddRange(newTopics.Select(t => $"topic {t} created"));
        InletServer.CheckTopicReferences(next.Receipt, sns);

        foreach (var declaration in next.Functions)
        {
            var installed = functionStore.Install(declaration.Definition, declaration.CodeSource);
            var current = functions.Resolve(installed.FunctionName);
            if (current is null || Serialize(current) != Serialize(installed))
            {
                functions.Put(installed);
                changes.Add(current is null ? $"function {installed.FunctionName} added" : $"function {installed.FunctionName} updated");
            }
        }

        var before = rules.Configuration;
        if (await rules.ApplyFileAsync(next.Receipt, next.ActiveReceiptRuleSetDeclared, cancellationToken).ConfigureAwait(false) is { } after)
        {
            changes.AddRange(DescribeReceiptChange(before, after));
        }

        foreach (var gone in (previous?.Receipt.RuleSets ?? []).Where(s => next.Receipt.RuleSets.All(n => n.Name != s.Name)))
        {
            changes.Add($"rule set {gone.Name} is no longer in the file and is kept (delete it with delete-receipt-rule-set)");
        }

        var newSubscriptions = next.Topics
            .Select(t => t with { Subscriptions = [.. t.Subscriptions.Where(s => !(previous?.Topics.FirstOrDefault(p => p.Name == t.Name)?.Subscriptions.Any(p => p.Protocol == s.Protocol && p.Endpoint == s.Endpoint) ?? false))] })
            .Where(t => t.Subscriptions.Count > 0)
            .ToList();
        await sns.ApplySubscriptionsAsync(newSubscriptions, cancellationToken).ConfigureAwait(false);
        changes.AddRange(newSubscriptions.SelectMany(t => t.Subscriptions.Select(s => $"{s.Protocol} subscription to {t.Name} made")));

        if (previous is not null)
        {
            changes.AddRange(RestartOnly(previous, next).Select(setting => $"{setting} changed: it takes effect after a restart"));
        }

        return changes;
    }

    private static IEnumerable<string> DescribeReceiptChange(ReceiptConfiguration before, ReceiptConfiguration after)
    {
        foreach (var set in after.RuleSets)
        {
            var old = before.RuleSets.FirstOrDefault(s => s.Name == set.Name);
            if (old is null)
            {
                yield return $"rule set {set.Name} added ({set.Rules.Length} rule(s))";
            }
            else if (Serialize(old) != Serialize(set))
            {
                yield return $"rule set {set.Name} replaced ({set.Rules.Length} rule(s))";
            }
        }

        if (before.ActiveRuleSetName != after.ActiveRuleSetName)
        {
            yield return $"active rule set {before.ActiveRuleSetName ?? "none"} -> {after.ActiveRuleSetName ?? "none"}";
        }

        if (before.Filters.Length != after.Filters.Length || !before.Filters.SequenceEqual(after.Filters))
        {
            yield return $"receipt filters now {after.Filters.Length}";
        }

        yield return $"receipt configuration version {after.Version}";
    }

    private static string Serialize(FunctionDefinition function) =>
        System.Text.Json.JsonSerializer.Serialize(function with { LastModified = default }, FunctionDefinitionJsonContext.Default.FunctionDefinition);

    private static string Serialize(ReceiptRuleSet set) => RulesJsonContext.Serialize(new ReceiptConfiguration { RuleSets = [set] });

    private static IEnumerable<string> RestartOnly(InletOptions previous, InletOptions next)
    {
        if (previous.Region != next.Region || previous.AccountId != next.AccountId)
        {
            yield return "Region/AccountId";
        }

        if (previous.DataDirectory != next.DataDirectory)
        {
            yield return "DataDirectory";
        }

        if (previous.Smtp != next.Smtp)
        {
            yield return "Smtp";
        }

        if (previous.Http != next.Http)
        {
            yield return "Http";
        }

        if (!previous.Credentials.SequenceEqual(next.Credentials))
        {
            yield return "Credentials";
        }

        if (previous.Processing != next.Processing)
        {
            yield return "Processing";
        }

        if (previous.Outbound != next.Outbound)
        {
            yield return "Outbound";
        }

        if (previous.FunctionSettings != next.FunctionSettings)
        {
            yield return "FunctionSettings";
        }

        if (previous.Notifications != next.Notifications)
        {
            yield return "Notifications";
        }

        if (previous.BucketStore != next.BucketStore)
        {
            yield return "BucketStore";
        }
    }

    [LoggerMessage(EventId = 30, Level = LogLevel.Information, Message = "Configuration {Path} applied: {Changes}")]
    private static partial void LogApplied(ILogger logger, string path, string changes);

    [LoggerMessage(EventId = 31, Level = LogLevel.Error, Message = "Configuration change not applied; the running configuration stays. {Error}")]
    private static partial void LogInvalid(ILogger logger, string error);
}
