namespace Inlet.Storage;

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

    /// <summary>Where processing stands (JSON of the pipeline's progress), for resuming after a retry or a restart.</summary>
    public string? Progress { get; init; }

    /// <summary>What happened to the message (JSON array of trace entries).</summary>
    public string? Trace { get; init; }

    /// <summary>When a retrying message is due again.</summary>
    public DateTimeOffset? NextAttemptAt { get; init; }
}

/// <summary>A change to a message record: its status and, optionally, subject, progress and trace.</summary>
/// <remarks>
/// Two kinds of field: what a message accumulates (subject, trace, configuration version) is kept when left null;
/// what describes the current run (progress, next attempt) is always written, so null clears it — a replay starts
/// with no progress, and a message that is not retrying has no next attempt.
/// </remarks>
internal sealed record MessageUpdate(string Id, string Status)
{
    /// <summary>Kept when null.</summary>
    public string? Subject { get; init; }

    /// <summary>Written as given: null clears the progress.</summary>
    public string? Progress { get; init; }

    /// <summary>Kept when null.</summary>
    public string? Trace { get; init; }

    /// <summary>Written as given: null means not waiting for a retry.</summary>
    public DateTimeOffset? NextAttemptAt { get; init; }

    /// <summary>Replaces the configuration version, for a replay under today's rules; kept when null.</summary>
    public long? ConfigVersion { get; init; }

    /// <summary>Whether a run that saves this status is over (finished, or waiting for its next attempt): its update gives up the lease.</summary>
    public static bool EndsRun(string status) => status is not (MessageStatus.Queued or MessageStatus.Processing or MessageStatus.Inline);
}

/// <summary>
/// Which messages a search keeps: each field given is a substring to find (case-insensitive) in the envelope sender,
/// the envelope recipients or the subject; <see cref="Text"/> is found in any of them, or is the message id.
/// </summary>
internal sealed record MessageFilter
{
    public string? From { get; init; }

    public string? To { get; init; }

    public string? Subject { get; init; }

    public string? Text { get; init; }

    /// <summary>Exactly this status.</summary>
    public string? Status { get; init; }
}

internal sealed record MessagePage(IReadOnlyList<MessageRecord> Messages, string? NextToken);

/// <summary>
/// Message records: written at acceptance, changed as processing goes, read by the API, the CLI and the console.
/// A message still to be processed is also an item of the message work queue.
/// </summary>
internal interface IMessageStore
{
    /// <summary>The items still to be worked on, as a work queue that several nodes share.</summary>
    IWorkQueue<MessageRecord> MessageQueue { get; }

    /// <summary>
    /// Durably records an accepted message; returns once it is on disk. With a lease, the message is this node's from
    /// the start: its processing was handed it without a claim. An inline message is recorded when its run has
    /// ended, with its outcome (status, progress, trace) in the same record.
    /// </summary>
    Task InsertMessageAsync(MessageRecord message, TimeSpan? lease, CancellationToken cancellationToken);

    /// <summary>
    /// Changes a message, unless another node holds its lease; returns whether it was changed. A message whose
    /// processing was taken over after this node's lease ran out is no longer this node's to change.
    /// </summary>
    Task<bool> UpdateMessageAsync(MessageUpdate update, CancellationToken cancellationToken);

    Task<MessageRecord?> GetMessageAsync(string id, CancellationToken cancellationToken);

    /// <summary>Newest first; <paramref name="before"/> is the NextToken of the previous page.</summary>
    Task<MessagePage> ListMessagesAsync(int limit, string? before, CancellationToken cancellationToken);

    /// <summary>The messages the filter keeps, newest first; <paramref name="before"/> is the NextToken of the previous page.</summary>
    Task<MessagePage> SearchMessagesAsync(MessageFilter filter, int limit, string? before, CancellationToken cancellationToken);

    /// <summary>Messages inserted or changed at or after <paramref name="since"/>, in the order they changed.</summary>
    Task<IReadOnlyList<MessageRecord>> ListUpdatedSinceAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken);

    Task<bool> MessageExistsAsync(string id, CancellationToken cancellationToken);
}
