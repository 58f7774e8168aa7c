namespace Inlet.Storage;

/// <summary>Where a message stands.</summary>
internal static class MessageStatus
{
    /// <summary>Durable and acknowledged, waiting to be processed.</summary>
    public const string Queued = "queued";

    /// <summary>Processed: stored and listed.</summary>
    public const string Received = "received";
}

/// <summary>The record of one accepted message: its envelope, where it stands, and what happened to it.</summary>
internal sealed record MessageRecord
{
    public required string Id { get; init; }

    public required DateTimeOffset ReceivedAt { get; init; }

    public required string MailFrom { get; init; }

    public required IReadOnlyList<string> Recipients { get; init; }

    public string? RemoteAddress { get; init; }

    public string? ClientName { get; init; }

    public bool IsSecure { get; init; }

    public string? TlsProtocol { get; init; }

    public bool SmtpUtf8 { get; init; }

    public string BodyType { get; init; } = "7BIT";

    public long Size { get; init; }

    /// <summary>The receipt configuration version the message arrived under.</summary>
    public long ConfigVersion { get; init; }

    public string Status { get; init; } = MessageStatus.Queued;

    public string? Subject { get; init; }

    public DateTimeOffset UpdatedAt { get; init; }
}

internal sealed record MessagePage(IReadOnlyList<MessageRecord> Messages, string? NextToken);

/// <summary>
/// Message records, the work queue and configuration snapshots. The embedded implementation is SQLite; the
/// engine sees only this interface, so a PostgreSQL one can take its place.
/// </summary>
internal interface IStateStore : IAsyncDisposable
{
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Durably records an accepted message; returns once it is on disk.</summary>
    Task InsertMessageAsync(MessageRecord message, CancellationToken cancellationToken);

    Task UpdateMessageAsync(string id, string status, string? subject, CancellationToken cancellationToken);

    Task<MessageRecord?> GetMessageAsync(string id, CancellationToken cancellationToken);

    /// <summary>Newest first; <paramref name="before"/> is the NextToken of the previous page.</summary>
    Task<MessagePage> ListMessagesAsync(int limit, string? before, CancellationToken cancellationToken);

    /// <summary>Every message whose processing has not finished, oldest first.</summary>
    Task<IReadOnlyList<MessageRecord>> ListUnfinishedAsync(CancellationToken cancellationToken);

    Task<bool> MessageExistsAsync(string id, CancellationToken cancellationToken);

    /// <summary>Stores a configuration document unless it equals the newest one; returns its version.</summary>
    Task<long> SaveConfigurationAsync(string document, CancellationToken cancellationToken);

    Task<string?> GetConfigurationAsync(long version, CancellationToken cancellationToken);
}
