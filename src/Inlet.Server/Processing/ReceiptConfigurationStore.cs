using System.Collections.Concurrent;
using Inlet.Rules;
using Inlet.Storage;

namespace Inlet.Processing;

/// <summary>
/// Every receipt configuration version a message may refer to: "emails are always evaluated against the receipt
/// rule set that was in place at the time the email was received". Versions are kept in the state store and cached.
/// </summary>
internal sealed class ReceiptConfigurationStore(ReceiptConfigurationProvider current, IConfigurationVersionStore state)
{
    private readonly ConcurrentDictionary<long, ReceiptConfiguration> _cache = new();

    public async Task<ReceiptConfiguration> GetAsync(long version, CancellationToken cancellationToken)
    {
        var now = current.Current.Configuration;
        if (now.Version == version)
        {
            return now;
        }

        if (_cache.TryGetValue(version, out var cached))
        {
            return cached;
        }

        var document = await state.GetConfigurationAsync(version, cancellationToken)
            ?? throw new InvalidOperationException($"Receipt configuration version {version} is not in the state store.");
        return _cache.GetOrAdd(version, RulesJsonContext.Deserialize(document, version));
    }

    /// <summary>
    /// Makes a new configuration, made from the version it carries, current and durable; returns it with its new
    /// version. Throws <see cref="ConfigurationConflictException"/> when another node saved a version since.
    /// </summary>
    public async Task<ReceiptConfiguration> SaveAsync(ReceiptConfiguration configuration, CancellationToken cancellationToken)
    {
        var version = await state.SaveConfigurationAsync(RulesJsonContext.Serialize(configuration), configuration.Version, cancellationToken);
        var saved = configuration with { Version = version };
        current.Update(saved);
        return saved;
    }

    /// <summary>Makes the newest stored version current, when it is newer than the one in force (another node saved it).</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        if (await state.GetLatestConfigurationAsync(cancellationToken) is { } latest && latest.Version > current.Current.Configuration.Version)
        {
            current.Update(_cache.GetOrAdd(latest.Version, RulesJsonContext.Deserialize(latest.Document, latest.Version)));
        }
    }
}
