namespace Inlet.Storage;

/// <summary>An object of the file bucket store as it was written, kept until the file system has its file on disk.</summary>
internal sealed record ObjectJournalEntry(long Id, string Container, string Key, byte[] Data);

/// <summary>
/// A write-ahead journal of bucket objects in the state store: an entry is committed by the store's group commit,
/// with whatever else commits at the same instant, so that a small object needs no fsync of its own.
/// </summary>
internal interface IObjectJournal
{
    /// <summary>Durably records an object's content; returns once it is committed.</summary>
    Task AppendAsync(string container, string key, byte[] data, CancellationToken cancellationToken);

    /// <summary>Every entry still kept, oldest first.</summary>
    Task<IReadOnlyList<ObjectJournalEntry>> ReadAllAsync(CancellationToken cancellationToken);

    /// <summary>The newest entry's id, or null when the journal is empty.</summary>
    Task<long?> LastIdAsync(CancellationToken cancellationToken);

    /// <summary>Drops every entry up to and including <paramref name="lastId"/>: what they recorded is on disk.</summary>
    Task TruncateAsync(long lastId, CancellationToken cancellationToken);
}
