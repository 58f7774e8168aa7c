namespace Inlet.Storage;

/// <summary>
/// One outgoing message — a bounce or a message sent through the SES sending APIs — with its envelope and where it
/// stands: <c>held</c> (no relay is configured), <c>pending</c> (queued for the relay), <c>sent</c> or <c>failed</c>.
/// </summary>
internal sealed record OutboxRecord
{
    public required string Id { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary><c>bounce</c> or <c>sent</c>.</summary>
    public required string Kind { get; init; }

    /// <summary>The received message a bounce answers; empty for a sent message.</summary>
    public string MessageId { get; init; } = string.Empty;

    /// <summary>The SES message id the API returned for it (its Message-ID header is this id at email.amazonses.com).</summary>
    public string? SesMessageId { get; init; }

    /// <summary>The envelope sender; empty for the null reverse-path of a bounce.</summary>
    public required string MailFrom { get; init; }

    public required IReadOnlyList<string> Recipients { get; init; }

    /// <summary>The recipients as one line, for listings.</summary>
    public string Recipient => string.Join(", ", Recipients);

    public string Subject { get; init; } = string.Empty;

    public long Size { get; init; }

    public required string Status { get; init; }

    public int Attempts { get; init; }

    /// <summary>When a pending message is due for its next relay attempt.</summary>
    public DateTimeOffset? NextAttemptAt { get; init; }

    /// <summary>The relay's last reply or error.</summary>
    public string? LastError { get; init; }

    public DateTimeOffset? SentAt { get; init; }
}

/// <summary>Outgoing mail: the relay's work queue (pending items) and the outbox's history.</summary>
internal interface IOutboxStore
{
    /// <summary>The items still to be worked on, as a work queue that several nodes share.</summary>
    IWorkQueue<OutboxRecord> OutboxQueue { get; }

    /// <summary>Durably records an outgoing message (its content is already committed to the spool).</summary>
    Task InsertOutboxAsync(OutboxRecord record, CancellationToken cancellationToken);

    /// <summary>Changes an outbox item unless another node holds its lease; returns whether it was changed.</summary>
    Task<bool> UpdateOutboxAsync(OutboxRecord record, CancellationToken cancellationToken);

    Task<OutboxRecord?> GetOutboxAsync(string id, CancellationToken cancellationToken);

    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<OutboxRecord>> ListOutboxAsync(int limit, CancellationToken cancellationToken);
}
