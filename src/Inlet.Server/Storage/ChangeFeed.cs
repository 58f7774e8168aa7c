namespace Inlet.Storage;

/// <summary>The parts of the state that nodes cache, each with a version counter that every change raises.</summary>
internal static class StateAggregate
{
    public const string Configuration = "configuration";
    public const string Functions = "functions";
    public const string Topics = "topics";
    public const string Identities = "identities";
}

/// <summary>
/// How a node learns that another changed what it caches: the version counter of each <see cref="StateAggregate"/>,
/// raised in the same transaction as the change.
/// </summary>
internal interface IChangeFeed
{
    Task<IReadOnlyDictionary<string, long>> ReadVersionsAsync(CancellationToken cancellationToken);

    /// <summary>Returns when a change may have happened, or after <paramref name="timeout"/>.</summary>
    Task WaitForChangeAsync(TimeSpan timeout, CancellationToken cancellationToken);
}
