using System.Data.Common;

namespace Inlet.Storage;

/// <summary>Asynchronous invocations, SNS deliveries and the outbox: each a work queue with its history.</summary>
internal abstract partial class SqlStateStore
{
    private const string InvocationColumns = "id, function_name, payload, created_at, attempts, next_attempt_at, status, last_error, source";

    private const string DeliveryColumns = "id, subscription_arn, topic_arn, message_type, message_id, body, created_at, attempts, next_attempt_at, status, last_error, delivered_at, endpoint";

    private const string OutboxColumns = """
        id, created_at, kind, message_id, ses_message_id, mail_from, recipient, recipients, subject, size, status,
        attempts, next_attempt_at, last_error, sent_at
        """;

    private static readonly WorkTable<AsyncInvocationRecord> s_invocations = new("invocations", InvocationColumns,
        new DueItems($"status = '{InvocationStatus.Pending}' AND next_attempt_at <= @now", "next_attempt_at"), InvocationStatus.Pending, ReadInvocation);

    private static readonly WorkTable<DeliveryRecord> s_deliveries = new("deliveries", DeliveryColumns,
        new DueItems($"status = '{DeliveryStatus.Pending}' AND next_attempt_at <= @now", "next_attempt_at"), DeliveryStatus.Pending, ReadDelivery);

    private static readonly WorkTable<OutboxRecord> s_outbox = new("outbox", OutboxColumns,
        new DueItems($"status = '{OutboxStatus.Pending}' AND next_attempt_at <= @now", "next_attempt_at"), OutboxStatus.Pending, ReadOutbox);

    public Task InsertInvocationAsync(AsyncInvocationRecord invocation, CancellationToken cancellationToken) =>
        ExecuteWriteAsync($"INSERT INTO invocations ({InvocationColumns}) VALUES (@id, @function, @payload, @created, @attempts, @next, @status, @error, @source);",
            InvocationParameters(invocation), cancellationToken);

    public Task<bool> UpdateInvocationAsync(AsyncInvocationRecord invocation, CancellationToken cancellationToken) =>
        UpdateUnlessLeasedAsync($"UPDATE invocations SET attempts = @attempts, next_attempt_at = @next, status = @status, last_error = @error WHERE id = @id AND {NotLeasedByAnother};",
            InvocationParameters(invocation), cancellationToken);

    private static (string, object?)[] InvocationParameters(AsyncInvocationRecord i) =>
    [
        ("@id", i.Id), ("@function", i.FunctionName), ("@payload", i.Payload), ("@created", Format(i.CreatedAt)), ("@attempts", i.Attempts),
        ("@next", Format(i.NextAttemptAt)), ("@status", i.Status), ("@error", i.LastError), ("@source", i.Source),
    ];

    public Task DeleteInvocationAsync(string id, CancellationToken cancellationToken) =>
        ExecuteWriteAsync("DELETE FROM invocations WHERE id = @id;", [("@id", id)], cancellationToken);

    public async Task<AsyncInvocationRecord?> GetInvocationAsync(string id, CancellationToken cancellationToken) =>
        (await QueryInvocationsAsync("WHERE id = @id", [("@id", id)], cancellationToken)).FirstOrDefault();

    public Task<IReadOnlyList<AsyncInvocationRecord>> ListInvocationsAsync(string status, int limit, CancellationToken cancellationToken) =>
        QueryInvocationsAsync("WHERE status = @status ORDER BY created_at DESC LIMIT @limit", [("@status", status), ("@limit", limit)], cancellationToken);

    private async Task<IReadOnlyList<AsyncInvocationRecord>> QueryInvocationsAsync(string clause, (string, object?)[] parameters, CancellationToken cancellationToken)
    {
        var list = new List<AsyncInvocationRecord>();
        await QueryAsync($"SELECT {InvocationColumns} FROM invocations {clause};", parameters, reader => list.Add(ReadInvocation(reader)), cancellationToken);
        return list;
    }

    private static AsyncInvocationRecord ReadInvocation(DbDataReader reader) => new()
    {
        Id = reader.GetString(0),
        FunctionName = reader.GetString(1),
        Payload = (byte[])reader.GetValue(2),
        CreatedAt = Parse(reader.GetString(3)),
        Attempts = reader.GetInt32(4),
        NextAttemptAt = Parse(reader.GetString(5)),
        Status = reader.GetString(6),
        LastError = TextOrNull(reader, 7),
        Source = TextOrNull(reader, 8),
    };

    public Task InsertDeliveriesAsync(IReadOnlyList<DeliveryRecord> deliveries, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            foreach (var delivery in deliveries)
            {
                await ExecuteAsync(connection, transaction, $"""
                    INSERT INTO deliveries ({DeliveryColumns})
                    VALUES (@id, @subscription, @topic, @type, @message, @body, @created, @attempts, @next, @status, @error, @delivered, @endpoint);
                    """, DeliveryParameters(delivery), cancellationToken);
            }

            return null;
        }, cancellationToken);

    public Task<bool> UpdateDeliveryAsync(DeliveryRecord delivery, CancellationToken cancellationToken) =>
        UpdateUnlessLeasedAsync($"UPDATE deliveries SET attempts = @attempts, next_attempt_at = @next, status = @status, last_error = @error, delivered_at = @delivered WHERE id = @id AND {NotLeasedByAnother};",
            DeliveryParameters(delivery), cancellationToken);

    private static (string, object?)[] DeliveryParameters(DeliveryRecord d) =>
    [
        ("@id", d.Id), ("@subscription", d.SubscriptionArn), ("@endpoint", d.Endpoint), ("@topic", d.TopicArn), ("@type", d.MessageType),
        ("@message", d.MessageId), ("@body", d.Body), ("@created", Format(d.CreatedAt)), ("@attempts", d.Attempts),
        ("@next", Format(d.NextAttemptAt)), ("@status", d.Status), ("@error", d.LastError), ("@delivered", Format(d.DeliveredAt)),
    ];

    public Task<IReadOnlyList<DeliveryRecord>> ListDeliveriesAsync(string? status, int limit, CancellationToken cancellationToken) =>
        status is null
            ? QueryDeliveriesAsync("ORDER BY created_at DESC LIMIT @limit", [("@limit", limit)], cancellationToken)
            : QueryDeliveriesAsync("WHERE status = @status ORDER BY created_at DESC LIMIT @limit", [("@status", status), ("@limit", limit)], cancellationToken);

    private async Task<IReadOnlyList<DeliveryRecord>> QueryDeliveriesAsync(string clause, (string, object?)[] parameters, CancellationToken cancellationToken)
    {
        var list = new List<DeliveryRecord>();
        await QueryAsync($"SELECT {DeliveryColumns} FROM deliveries {clause};", parameters, reader => list.Add(ReadDelivery(reader)), cancellationToken);
        return list;
    }

    private static DeliveryRecord ReadDelivery(DbDataReader reader) => new()
    {
        Id = reader.GetString(0),
        SubscriptionArn = reader.GetString(1),
        TopicArn = reader.GetString(2),
        MessageType = reader.GetString(3),
        MessageId = reader.GetString(4),
        Body = reader.GetString(5),
        CreatedAt = Parse(reader.GetString(6)),
        Attempts = reader.GetInt32(7),
        NextAttemptAt = Parse(reader.GetString(8)),
        Status = reader.GetString(9),
        LastError = TextOrNull(reader, 10),
        DeliveredAt = TimeOrNull(reader, 11),
        Endpoint = reader.GetString(12),
    };

    public Task InsertOutboxAsync(OutboxRecord record, CancellationToken cancellationToken) =>
        ExecuteWriteAsync($"""
            INSERT INTO outbox ({OutboxColumns})
            VALUES (@id, @created, @kind, @message, @ses, @from, @rcpt, @rcpts, @subject, @size, @status, @attempts, @next, @error, @sent);
            """, OutboxParameters(record), cancellationToken);

    public Task<bool> UpdateOutboxAsync(OutboxRecord record, CancellationToken cancellationToken) =>
        UpdateUnlessLeasedAsync($"UPDATE outbox SET status = @status, attempts = @attempts, next_attempt_at = @next, last_error = @error, sent_at = @sent WHERE id = @id AND {NotLeasedByAnother};",
            OutboxParameters(record), cancellationToken);

    private static (string, object?)[] OutboxParameters(OutboxRecord r) =>
    [
        ("@id", r.Id), ("@created", Format(r.CreatedAt)), ("@kind", r.Kind), ("@message", r.MessageId), ("@ses", r.SesMessageId),
        ("@from", r.MailFrom), ("@rcpt", r.Recipient), ("@rcpts", WriteList(r.Recipients)), ("@subject", r.Subject), ("@size", r.Size),
        ("@status", r.Status), ("@attempts", r.Attempts), ("@next", Format(r.NextAttemptAt)), ("@error", r.LastError), ("@sent", Format(r.SentAt)),
    ];

    public async Task<OutboxRecord?> GetOutboxAsync(string id, CancellationToken cancellationToken) =>
        (await QueryOutboxAsync("WHERE id = @id", [("@id", id)], cancellationToken)).FirstOrDefault();

    public Task<IReadOnlyList<OutboxRecord>> ListOutboxAsync(int limit, CancellationToken cancellationToken) =>
        QueryOutboxAsync("ORDER BY created_at DESC, id DESC LIMIT @limit", [("@limit", limit)], cancellationToken);

    private async Task<IReadOnlyList<OutboxRecord>> QueryOutboxAsync(string clause, (string, object?)[] parameters, CancellationToken cancellationToken)
    {
        var list = new List<OutboxRecord>();
        await QueryAsync($"SELECT {OutboxColumns} FROM outbox {clause};", parameters, reader => list.Add(ReadOutbox(reader)), cancellationToken);
        return list;
    }

    private static OutboxRecord ReadOutbox(DbDataReader reader) => new()
    {
        Id = reader.GetString(0),
        CreatedAt = Parse(reader.GetString(1)),
        Kind = reader.GetString(2),
        MessageId = reader.GetString(3),
        SesMessageId = TextOrNull(reader, 4),
        MailFrom = reader.GetString(5),
        // Rows written before the recipients column held their single recipient in `recipient`.
        Recipients = reader.IsDBNull(7) ? [reader.GetString(6)] : ReadList(reader.GetString(7)),
        Subject = reader.GetString(8),
        Size = reader.GetInt64(9),
        Status = reader.GetString(10),
        Attempts = reader.GetInt32(11),
        NextAttemptAt = TimeOrNull(reader, 12),
        LastError = TextOrNull(reader, 13),
        SentAt = TimeOrNull(reader, 14),
    };

    /// <summary>An update of a work item that is refused while another node holds its lease.</summary>
    private async Task<bool> UpdateUnlessLeasedAsync(string sql, (string, object?)[] parameters, CancellationToken cancellationToken)
    {
        (string, object?)[] all = [.. parameters, ("@owner", Owner), ("@now", Format(DateTimeOffset.UtcNow))];
        var changed = await WriteAsync(async (connection, transaction) => await ExecuteAsync(connection, transaction, sql, all, cancellationToken), cancellationToken);
        return (int)changed! > 0;
    }
}
