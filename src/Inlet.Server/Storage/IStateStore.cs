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
internal sealed record MessageUpdate(string Id, string Status)
{
    public string? Subject { get; init; }

    public string? Progress { get; init; }

    public string? Trace { get; init; }

    public DateTimeOffset? NextAttemptAt { get; init; }

    /// <summary>Replaces the configuration version, for a replay under today's rules.</summary>
    public long? ConfigVersion { get; init; }
}

/// <summary>An asynchronous (<c>Event</c>) invocation waiting in the durable queue, or dead-lettered.</summary>
internal sealed record AsyncInvocationRecord
{
    public required string Id { get; init; }

    public required string FunctionName { get; init; }

    public required byte[] Payload { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public int Attempts { get; init; }

    public DateTimeOffset NextAttemptAt { get; init; }

    /// <summary><c>pending</c> or <c>dead</c>.</summary>
    public string Status { get; init; } = WorkStatus.Pending;

    /// <summary>Why it died, or the last attempt's error.</summary>
    public string? LastError { get; init; }

    /// <summary>Where it came from, such as <c>ses:&lt;message id&gt;</c> or <c>invoke</c>.</summary>
    public string? Source { get; init; }
}

/// <summary>An SNS topic and its attributes.</summary>
internal sealed record TopicRecord(string Arn, string Name, IReadOnlyDictionary<string, string> Attributes, DateTimeOffset CreatedAt);

/// <summary>An SNS subscription: <c>PendingConfirmation</c> until its endpoint confirms it.</summary>
internal sealed record SubscriptionRecord
{
    public required string Arn { get; init; }

    public required string TopicArn { get; init; }

    public required string Protocol { get; init; }

    public required string Endpoint { get; init; }

    public bool Confirmed { get; init; }

    public required string Token { get; init; }

    public IReadOnlyDictionary<string, string> Attributes { get; init; } = new Dictionary<string, string>();

    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>One message on its way to one subscription, durable until delivered or given up.</summary>
internal sealed record DeliveryRecord
{
    public required string Id { get; init; }

    public required string SubscriptionArn { get; init; }

    /// <summary>Where it goes: the URL, or the function, as the subscription said when the message was published.</summary>
    public required string Endpoint { get; init; }

    public required string TopicArn { get; init; }

    /// <summary><c>Notification</c>, <c>SubscriptionConfirmation</c> or <c>UnsubscribeConfirmation</c>.</summary>
    public required string MessageType { get; init; }

    public required string MessageId { get; init; }

    /// <summary>What is POSTed (the signed JSON document, or the raw message), or the Lambda event.</summary>
    public required string Body { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public int Attempts { get; init; }

    public DateTimeOffset NextAttemptAt { get; init; }

    /// <summary><c>pending</c>, <c>delivered</c>, <c>failed</c> (gave up) or <c>rejected</c> (the endpoint answered 4xx).</summary>
    public string Status { get; init; } = WorkStatus.Pending;

    public string? LastError { get; init; }

    public DateTimeOffset? DeliveredAt { get; init; }
}

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

/// <summary>A sending identity created through the API (an email address, or a domain with its verification token).</summary>
internal sealed record IdentityRecord(string Identity, string Type, string? VerificationToken, DateTimeOffset CreatedAt);

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
/// Message records, the work queue and configuration snapshots. The embedded implementation is SQLite; the
/// engine sees only this interface, so a PostgreSQL one can take its place.
/// </summary>
internal interface IStateStore : IAsyncDisposable
{
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Durably records an accepted message; returns once it is on disk.</summary>
    Task InsertMessageAsync(MessageRecord message, CancellationToken cancellationToken);

    Task UpdateMessageAsync(MessageUpdate update, CancellationToken cancellationToken);

    Task<MessageRecord?> GetMessageAsync(string id, CancellationToken cancellationToken);

    /// <summary>Newest first; <paramref name="before"/> is the NextToken of the previous page.</summary>
    Task<MessagePage> ListMessagesAsync(int limit, string? before, CancellationToken cancellationToken);

    /// <summary>The messages the filter keeps, newest first; <paramref name="before"/> is the NextToken of the previous page.</summary>
    Task<MessagePage> SearchMessagesAsync(MessageFilter filter, int limit, string? before, CancellationToken cancellationToken);

    /// <summary>Messages inserted or changed at or after <paramref name="since"/>, in the order they changed.</summary>
    Task<IReadOnlyList<MessageRecord>> ListUpdatedSinceAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken);

    /// <summary>Every message whose processing has not finished, oldest first.</summary>
    Task<IReadOnlyList<MessageRecord>> ListUnfinishedAsync(CancellationToken cancellationToken);

    Task<bool> MessageExistsAsync(string id, CancellationToken cancellationToken);

    /// <summary>Durably records an outgoing message (its content is already committed to the spool).</summary>
    Task InsertOutboxAsync(OutboxRecord record, CancellationToken cancellationToken);

    Task UpdateOutboxAsync(OutboxRecord record, CancellationToken cancellationToken);

    Task<OutboxRecord?> GetOutboxAsync(string id, CancellationToken cancellationToken);

    /// <summary>Pending outgoing messages due at <paramref name="now"/>, oldest first.</summary>
    Task<IReadOnlyList<OutboxRecord>> ListDueOutboxAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);

    Task<DateTimeOffset?> NextOutboxDueAsync(CancellationToken cancellationToken);

    Task InsertInvocationAsync(AsyncInvocationRecord invocation, CancellationToken cancellationToken);

    Task UpdateInvocationAsync(AsyncInvocationRecord invocation, CancellationToken cancellationToken);

    Task DeleteInvocationAsync(string id, CancellationToken cancellationToken);

    Task<AsyncInvocationRecord?> GetInvocationAsync(string id, CancellationToken cancellationToken);

    /// <summary>Pending invocations due at <paramref name="now"/>, oldest first.</summary>
    Task<IReadOnlyList<AsyncInvocationRecord>> ListDueInvocationsAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);

    /// <summary>Invocations with the status, newest first.</summary>
    Task<IReadOnlyList<AsyncInvocationRecord>> ListInvocationsAsync(string status, int limit, CancellationToken cancellationToken);

    /// <summary>When the next pending invocation is due, if any.</summary>
    Task<DateTimeOffset?> NextInvocationDueAsync(CancellationToken cancellationToken);

    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<OutboxRecord>> ListOutboxAsync(int limit, CancellationToken cancellationToken);

    /// <summary>Sending identities created through the API, kept across restarts.</summary>
    Task PutIdentityAsync(IdentityRecord identity, CancellationToken cancellationToken);

    Task DeleteIdentityAsync(string identity, CancellationToken cancellationToken);

    Task<IReadOnlyList<IdentityRecord>> ListIdentitiesAsync(CancellationToken cancellationToken);

    Task PutTopicAsync(TopicRecord topic, CancellationToken cancellationToken);

    Task DeleteTopicAsync(string arn, CancellationToken cancellationToken);

    Task<IReadOnlyList<TopicRecord>> ListTopicsAsync(CancellationToken cancellationToken);

    Task PutSubscriptionAsync(SubscriptionRecord subscription, CancellationToken cancellationToken);

    Task DeleteSubscriptionAsync(string arn, CancellationToken cancellationToken);

    Task<IReadOnlyList<SubscriptionRecord>> ListSubscriptionsAsync(CancellationToken cancellationToken);

    Task InsertDeliveriesAsync(IReadOnlyList<DeliveryRecord> deliveries, CancellationToken cancellationToken);

    Task UpdateDeliveryAsync(DeliveryRecord delivery, CancellationToken cancellationToken);

    Task<IReadOnlyList<DeliveryRecord>> ListDueDeliveriesAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);

    /// <summary>Deliveries with the status (all when null), newest first.</summary>
    Task<IReadOnlyList<DeliveryRecord>> ListDeliveriesAsync(string? status, int limit, CancellationToken cancellationToken);

    Task<DateTimeOffset?> NextDeliveryDueAsync(CancellationToken cancellationToken);

    /// <summary>Functions created through the Lambda API (JSON definitions), kept across restarts.</summary>
    Task PutFunctionAsync(string name, string definition, CancellationToken cancellationToken);

    Task DeleteFunctionAsync(string name, CancellationToken cancellationToken);

    Task<IReadOnlyList<string>> ListFunctionsAsync(CancellationToken cancellationToken);

    /// <summary>Stores a configuration document unless it equals the newest one; returns its version.</summary>
    Task<long> SaveConfigurationAsync(string document, CancellationToken cancellationToken);

    Task<string?> GetConfigurationAsync(long version, CancellationToken cancellationToken);

    /// <summary>The newest configuration document and its version, if any was saved.</summary>
    Task<(long Version, string Document)?> GetLatestConfigurationAsync(CancellationToken cancellationToken);
}
