using System.Collections.Immutable;
using System.Text.Json;
using Inlet.Functions;
using Inlet.Notifications;
using Inlet.Outbound;
using Inlet.Processing;
using Inlet.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Inlet.Management;

/// <summary>
/// Keeps this node's caches — the receipt configuration in force, functions, topics and subscriptions, sending
/// identities — in step with the shared state: when another node raised an aggregate's version in the change feed,
/// the aggregate is read again. On one node its own changes come back here too, and find nothing new.
/// </summary>
internal sealed partial class ChangeWatcher(
    IChangeFeed feed,
    IFunctionDefinitionStore functionStore,
    FunctionStore code,
    ReceiptConfigurationStore configurations,
    FunctionRegistry functions,
    SnsService topics,
    SendingIdentities identities,
    ImmutableHashSet<string> declaredFunctions,
    ILogger<ChangeWatcher> logger) : BackgroundService
{
    /// <summary>The longest a change made on another node goes unseen here, when the store cannot say sooner.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private Dictionary<string, long> _seen = [];

    // The API's functions as the store last listed them: only those can have been deleted by another node (one
    // put here a moment ago may not be listed yet).
    private HashSet<string>? _storedFunctions;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            _seen = new(await feed.ReadVersionsAsync(stoppingToken));
            await ReloadFunctionsAsync(stoppingToken);
            while (!stoppingToken.IsCancellationRequested)
            {
                await feed.WaitForChangeAsync(Interval, stoppingToken);
                await CatchUpAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    /// <summary>Reads again each aggregate whose version moved since the last look.</summary>
    public async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        try
        {
            var versions = await feed.ReadVersionsAsync(cancellationToken);
            foreach (var (aggregate, version) in versions)
            {
                if (_seen.GetValueOrDefault(aggregate) == version)
                {
                    continue;
                }

                await ReloadAsync(aggregate, cancellationToken);
                _seen[aggregate] = version;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The store is away for now; the next look tries again.
            LogCatchUpFailed(logger, e.Message);
        }
    }

    private async Task ReloadAsync(string aggregate, CancellationToken cancellationToken)
    {
        switch (aggregate)
        {
            case StateAggregate.Configuration:
                await configurations.RefreshAsync(cancellationToken);
                break;
            case StateAggregate.Topics:
                await topics.LoadAsync(cancellationToken);
                break;
            case StateAggregate.Identities:
                await identities.LoadAsync(cancellationToken);
                break;
            case StateAggregate.Functions:
                await ReloadFunctionsAsync(cancellationToken);
                break;
        }
    }

    /// <summary>
    /// Functions made through the API: new and changed definitions are put, deleted ones removed. Functions the
    /// configuration file declares are the file's, as at start.
    /// </summary>
    private async Task ReloadFunctionsAsync(CancellationToken cancellationToken)
    {
        var stored = new Dictionary<string, (FunctionDefinition Definition, string Json)>(StringComparer.Ordinal);
        foreach (var json in await functionStore.ListFunctionsAsync(cancellationToken))
        {
            if (JsonSerializer.Deserialize(json, FunctionDefinitionJsonContext.Default.FunctionDefinition) is { } saved && !declaredFunctions.Contains(saved.FunctionName))
            {
                // Made on another node, its code may be unpacked there only.
                var definition = await code.LocalizeAsync(saved, cancellationToken);
                stored[definition.FunctionName] = (definition, JsonSerializer.Serialize(definition, FunctionDefinitionJsonContext.Default.FunctionDefinition));
            }
        }

        foreach (var (name, (definition, json)) in stored)
        {
            var cached = functions.Resolve(name);
            if (cached is null || JsonSerializer.Serialize(cached, FunctionDefinitionJsonContext.Default.FunctionDefinition) != json)
            {
                functions.Put(definition);
                LogFunctionChanged(logger, name);
            }
        }

        foreach (var name in _storedFunctions?.Where(n => !stored.ContainsKey(n)) ?? [])
        {
            if (functions.Remove(name, out _))
            {
                LogFunctionChanged(logger, name);
            }
        }

        _storedFunctions = [.. stored.Keys];
    }

    [LoggerMessage(EventId = 900, Level = LogLevel.Warning, Message = "Cannot read the change feed of the state store: {Error}")]
    private static partial void LogCatchUpFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 901, Level = LogLevel.Information, Message = "Function {Name} changed in the state store; this node uses the new definition")]
    private static partial void LogFunctionChanged(ILogger logger, string name);
}
