using System.Collections.Concurrent;
using Inlet.Rules;
using Inlet.Storage;

namespace Inlet.Processing;

/// <summary>
/// Every receipt configuration version a message may refer to: "emails are always evaluated against the receipt
/// rule set that was in place at the time the email was received". Versions are kept in the state store and cached.
/// </summary>
internal sealed class ReceiptConfigurationStore(ReceiptConfigurationProvider current, IStateStore state)
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

    /// <summary>Makes a new configuration current and durable; returns it with its version.</summary>
    public async Task<ReceiptConfiguration> SaveAsync(ReceiptConfiguration configuration, CancellationToken cancellationToken)
    {
        var version = await state.SaveConfigurationAsync(RulesJsonContext.Serialize(configuration), cancellationToken);
        var saved = configuration with { Version = version };
        current.Update(saved);
        return saved;
    }
}
