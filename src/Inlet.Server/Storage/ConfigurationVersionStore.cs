namespace Inlet.Storage;

/// <summary>
/// The receipt configuration's versions: every version a message may refer to, kept so that "emails are always
/// evaluated against the receipt rule set that was in place at the time the email was received".
/// </summary>
internal interface IConfigurationVersionStore
{
    /// <summary>
    /// Stores a configuration document made from version <paramref name="basedOn"/> and returns its version; a
    /// document equal to the newest one is not stored again. When another version was saved since
    /// <paramref name="basedOn"/> (by another node), nothing is stored and <see cref="ConfigurationConflictException"/>
    /// is thrown: the change must be made again on the newest version, or it would undo the other one.
    /// </summary>
    Task<long> SaveConfigurationAsync(string document, long basedOn, CancellationToken cancellationToken);

    Task<string?> GetConfigurationAsync(long version, CancellationToken cancellationToken);

    /// <summary>The newest configuration document and its version, if any was saved.</summary>
    Task<(long Version, string Document)?> GetLatestConfigurationAsync(CancellationToken cancellationToken);
}

/// <summary>A configuration version was saved by someone else since the one a change was made from.</summary>
internal sealed class ConfigurationConflictException(long basedOn, long latest)
    : Exception($"The receipt configuration changed (version {basedOn} is now {latest}) while this change was made.")
{
    public long Latest { get; } = latest;
}
