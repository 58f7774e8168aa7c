using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Inlet.Storage;

/// <summary>
/// The embedded state store: one SQLite database in WAL mode with <c>synchronous=FULL</c>, so a committed
/// transaction is on disk. Writes go through one writer that commits whatever is waiting in a single transaction
/// (group commit): under load, many messages share one fsync.
/// </summary>
internal sealed class SqliteStateStore : IStateStore
{
    private const int SchemaVersion = 7;
    private const int MaxBatch = 256;

    private readonly string _connectionString;
    private readonly Channel<WriteOperation> _writes = Channel.CreateUnbounded<WriteOperation>(new UnboundedChannelOptions { SingleReader = true });
    private Task? _writer;

    public SqliteStateStore(string databasePath)
    {
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    private sealed record WriteOperation(Func<SqliteConnection, SqliteTransaction, Task<object?>> Run, TaskCompletionSource<object?> Completion);

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, "PRAGMA journal_mode=WAL;", cancellationToken);
        var version = Convert.ToInt32(await ScalarAsync(connection, "PRAGMA user_version;", cancellationToken), CultureInfo.InvariantCulture);
        // The migrations are history and keep their text; the status values in their partial indexes are those of
        // Core/Statuses.cs, which the queries below use.
        if (version < 1)
        {
            await ExecuteAsync(connection, """
                CREATE TABLE IF NOT EXISTS messages (
                    id TEXT PRIMARY KEY,
                    received_at TEXT NOT NULL,
                    mail_from TEXT NOT NULL,
                    recipients TEXT NOT NULL,
                    remote_address TEXT,
                    client_name TEXT,
                    is_secure INTEGER NOT NULL,
                    tls_protocol TEXT,
                    smtp_utf8 INTEGER NOT NULL,
                    body_type TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    config_version INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    subject TEXT,
                    updated_at TEXT NOT NULL
                );
                CREATE INDEX IF NOT EXISTS messages_unfinished ON messages(status) WHERE status = 'queued';
                CREATE TABLE IF NOT EXISTS config_versions (
                    version INTEGER PRIMARY KEY,
                    created_at TEXT NOT NULL,
                    document TEXT NOT NULL
                );
                """, cancellationToken);
        }

        if (version < 2)
        {
            await ExecuteAsync(connection, """
                ALTER TABLE messages ADD COLUMN progress TEXT;
                ALTER TABLE messages ADD COLUMN trace TEXT;
                ALTER TABLE messages ADD COLUMN next_attempt_at TEXT;
                DROP INDEX IF EXISTS messages_unfinished;
                CREATE INDEX messages_unfinished ON messages(status) WHERE status IN ('queued', 'processing', 'retrying', 'inline');
                CREATE TABLE IF NOT EXISTS outbox (
                    id TEXT PRIMARY KEY,
                    created_at TEXT NOT NULL,
                    message_id TEXT NOT NULL,
                    mail_from TEXT NOT NULL,
                    recipient TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    status TEXT NOT NULL
                );
                """, cancellationToken);
        }

        if (version < 3)
        {
            await ExecuteAsync(connection, """
                CREATE TABLE IF NOT EXISTS invocations (
                    id TEXT PRIMARY KEY,
                    function_name TEXT NOT NULL,
                    payload BLOB NOT NULL,
                    created_at TEXT NOT NULL,
                    attempts INTEGER NOT NULL,
                    next_attempt_at TEXT NOT NULL,
                    status TEXT NOT NULL,
                    last_error TEXT,
                    source TEXT
                );
                CREATE INDEX IF NOT EXISTS invocations_due ON invocations(next_attempt_at) WHERE status = 'pending';
                """, cancellationToken);
        }

        if (version < 4)
        {
            await ExecuteAsync(connection, """
                CREATE TABLE IF NOT EXISTS topics (arn TEXT PRIMARY KEY, name TEXT NOT NULL, attributes TEXT NOT NULL, created_at TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS subscriptions (
                    arn TEXT PRIMARY KEY, topic_arn TEXT NOT NULL, protocol TEXT NOT NULL, endpoint TEXT NOT NULL,
                    confirmed INTEGER NOT NULL, token TEXT NOT NULL, attributes TEXT NOT NULL, created_at TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS deliveries (
                    id TEXT PRIMARY KEY, subscription_arn TEXT NOT NULL, endpoint TEXT NOT NULL, topic_arn TEXT NOT NULL, message_type TEXT NOT NULL,
                    message_id TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL, attempts INTEGER NOT NULL,
                    next_attempt_at TEXT NOT NULL, status TEXT NOT NULL, last_error TEXT, delivered_at TEXT);
                CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(next_attempt_at) WHERE status = 'pending';
                """, cancellationToken);
        }

        if (version < 5)
        {
            await ExecuteAsync(connection, "CREATE TABLE IF NOT EXISTS functions (name TEXT PRIMARY KEY, definition TEXT NOT NULL);", cancellationToken);
        }

        if (version < 6)
        {
            // Outgoing mail of every kind shares the outbox; a pending row is a work item of the relay queue.
            await ExecuteAsync(connection, """
                ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'bounce';
                ALTER TABLE outbox ADD COLUMN ses_message_id TEXT;
                ALTER TABLE outbox ADD COLUMN recipients TEXT;
                ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE outbox ADD COLUMN next_attempt_at TEXT;
                ALTER TABLE outbox ADD COLUMN last_error TEXT;
                ALTER TABLE outbox ADD COLUMN sent_at TEXT;
                CREATE INDEX IF NOT EXISTS outbox_due ON outbox(next_attempt_at) WHERE status = 'pending';
                CREATE TABLE IF NOT EXISTS identities (identity TEXT PRIMARY KEY, type TEXT NOT NULL, token TEXT, created_at TEXT NOT NULL);
                """, cancellationToken);
        }

        if (version < 7)
        {
            // The console: what changed since its last look (the live list), and the list filtered by status, both
            // without a scan of every message.
            await ExecuteAsync(connection, """
                CREATE INDEX IF NOT EXISTS messages_updated ON messages(updated_at);
                CREATE INDEX IF NOT EXISTS messages_status ON messages(status, id);
                """, cancellationToken);
        }

        if (version < SchemaVersion)
        {
            await ExecuteAsync(connection, $"PRAGMA user_version = {SchemaVersion};", cancellationToken);
        }

        _writer = Task.Run(WriterLoopAsync, CancellationToken.None);
    }

    public Task InsertMessageAsync(MessageRecord message, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO messages (id, received_at, mail_from, recipients, remote_address, client_name, is_secure,
                    tls_protocol, smtp_utf8, body_type, size, config_version, status, subject, updated_at)
                VALUES ($id, $received_at, $mail_from, $recipients, $remote_address, $client_name, $is_secure,
                    $tls_protocol, $smtp_utf8, $body_type, $size, $config_version, $status, $subject, $updated_at);
                """;
            command.Parameters.AddWithValue("$id", message.Id);
            command.Parameters.AddWithValue("$received_at", Format(message.ReceivedAt));
            command.Parameters.AddWithValue("$mail_from", message.MailFrom);
            command.Parameters.AddWithValue("$recipients", JsonSerializer.Serialize(message.Recipients, StorageJsonContext.Default.IReadOnlyListString));
            command.Parameters.AddWithValue("$remote_address", (object?)message.RemoteAddress ?? DBNull.Value);
            command.Parameters.AddWithValue("$client_name", (object?)message.ClientName ?? DBNull.Value);
            command.Parameters.AddWithValue("$is_secure", message.IsSecure);
            command.Parameters.AddWithValue("$tls_protocol", (object?)message.TlsProtocol ?? DBNull.Value);
            command.Parameters.AddWithValue("$smtp_utf8", message.SmtpUtf8);
            command.Parameters.AddWithValue("$body_type", message.BodyType);
            command.Parameters.AddWithValue("$size", message.Size);
            command.Parameters.AddWithValue("$config_version", message.ConfigVersion);
            command.Parameters.AddWithValue("$status", message.Status);
            command.Parameters.AddWithValue("$subject", (object?)message.Subject ?? DBNull.Value);
            command.Parameters.AddWithValue("$updated_at", Format(DateTimeOffset.UtcNow));
            await command.ExecuteNonQueryAsync(cancellationToken);
            return null;
        }, cancellationToken);

    public Task UpdateMessageAsync(MessageUpdate update, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                UPDATE messages SET status = $status, subject = COALESCE($subject, subject), progress = $progress,
                    trace = COALESCE($trace, trace), next_attempt_at = $next, config_version = COALESCE($config, config_version),
                    updated_at = $now
                WHERE id = $id;
                """;
            command.Parameters.AddWithValue("$id", update.Id);
            command.Parameters.AddWithValue("$status", update.Status);
            command.Parameters.AddWithValue("$subject", (object?)update.Subject ?? DBNull.Value);
            command.Parameters.AddWithValue("$progress", (object?)update.Progress ?? DBNull.Value);
            command.Parameters.AddWithValue("$trace", (object?)update.Trace ?? DBNull.Value);
            command.Parameters.AddWithValue("$next", update.NextAttemptAt is { } next ? Format(next) : DBNull.Value);
            command.Parameters.AddWithValue("$config", (object?)update.ConfigVersion ?? DBNull.Value);
            command.Parameters.AddWithValue("$now", Format(DateTimeOffset.UtcNow));
            await command.ExecuteNonQueryAsync(cancellationToken);
            return null;
        }, cancellationToken);

    public Task InsertOutboxAsync(OutboxRecord record, CancellationToken cancellationToken) =>
        WriteOutboxAsync(record, """
            INSERT INTO outbox (id, created_at, kind, message_id, ses_message_id, mail_from, recipient, recipients, subject, size, status,
                attempts, next_attempt_at, last_error, sent_at)
            VALUES ($id, $created, $kind, $message, $ses, $from, $rcpt, $rcpts, $subject, $size, $status, $attempts, $next, $error, $sent);
            """, cancellationToken);

    public Task UpdateOutboxAsync(OutboxRecord record, CancellationToken cancellationToken) =>
        WriteOutboxAsync(record, """
            UPDATE outbox SET status = $status, attempts = $attempts, next_attempt_at = $next, last_error = $error, sent_at = $sent WHERE id = $id;
            """, cancellationToken);

    private Task WriteOutboxAsync(OutboxRecord record, string sql, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            command.Parameters.AddWithValue("$id", record.Id);
            command.Parameters.AddWithValue("$created", Format(record.CreatedAt));
            command.Parameters.AddWithValue("$kind", record.Kind);
            command.Parameters.AddWithValue("$message", record.MessageId);
            command.Parameters.AddWithValue("$ses", (object?)record.SesMessageId ?? DBNull.Value);
            command.Parameters.AddWithValue("$from", record.MailFrom);
            command.Parameters.AddWithValue("$rcpt", record.Recipient);
            command.Parameters.AddWithValue("$rcpts", JsonSerializer.Serialize(record.Recipients, StorageJsonContext.Default.IReadOnlyListString));
            command.Parameters.AddWithValue("$subject", record.Subject);
            command.Parameters.AddWithValue("$size", record.Size);
            command.Parameters.AddWithValue("$status", record.Status);
            command.Parameters.AddWithValue("$attempts", record.Attempts);
            command.Parameters.AddWithValue("$next", record.NextAttemptAt is { } next ? Format(next) : DBNull.Value);
            command.Parameters.AddWithValue("$error", (object?)record.LastError ?? DBNull.Value);
            command.Parameters.AddWithValue("$sent", record.SentAt is { } sent ? Format(sent) : DBNull.Value);
            await command.ExecuteNonQueryAsync(cancellationToken);
            return null;
        }, cancellationToken);

    public async Task<OutboxRecord?> GetOutboxAsync(string id, CancellationToken cancellationToken) =>
        (await QueryOutboxAsync("WHERE id = $id", [("$id", id)], cancellationToken)).FirstOrDefault();

    public Task<IReadOnlyList<OutboxRecord>> ListDueOutboxAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken) =>
        QueryOutboxAsync($"WHERE status = '{OutboxStatus.Pending}' AND next_attempt_at <= $now ORDER BY next_attempt_at LIMIT $limit", [("$now", Format(now)), ("$limit", limit)], cancellationToken);

    public Task<IReadOnlyList<OutboxRecord>> ListOutboxAsync(int limit, CancellationToken cancellationToken) =>
        QueryOutboxAsync("ORDER BY created_at DESC, id DESC LIMIT $limit", [("$limit", limit)], cancellationToken);

    public async Task<DateTimeOffset?> NextOutboxDueAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset? next = null;
        await QueryAsync($"SELECT MIN(next_attempt_at) FROM outbox WHERE status = '{OutboxStatus.Pending}';", [], reader => next = reader.IsDBNull(0) ? null : Parse(reader.GetString(0)), cancellationToken);
        return next;
    }

    private async Task<IReadOnlyList<OutboxRecord>> QueryOutboxAsync(string clause, (string Name, object Value)[] parameters, CancellationToken cancellationToken)
    {
        var list = new List<OutboxRecord>();
        await QueryAsync($"""
            SELECT id, created_at, kind, message_id, ses_message_id, mail_from, recipient, recipients, subject, size, status,
                attempts, next_attempt_at, last_error, sent_at
            FROM outbox {clause};
            """, parameters, reader => list.Add(new OutboxRecord
        {
            Id = reader.GetString(0),
            CreatedAt = Parse(reader.GetString(1)),
            Kind = reader.GetString(2),
            MessageId = reader.GetString(3),
            SesMessageId = reader.IsDBNull(4) ? null : reader.GetString(4),
            MailFrom = reader.GetString(5),
            // Rows written before the recipients column held their single recipient in `recipient`.
            Recipients = reader.IsDBNull(7) ? [reader.GetString(6)] : JsonSerializer.Deserialize(reader.GetString(7), StorageJsonContext.Default.IReadOnlyListString) ?? [],
            Subject = reader.GetString(8),
            Size = reader.GetInt64(9),
            Status = reader.GetString(10),
            Attempts = reader.GetInt32(11),
            NextAttemptAt = reader.IsDBNull(12) ? null : Parse(reader.GetString(12)),
            LastError = reader.IsDBNull(13) ? null : reader.GetString(13),
            SentAt = reader.IsDBNull(14) ? null : Parse(reader.GetString(14)),
        }), cancellationToken);
        return list;
    }

    public Task PutIdentityAsync(IdentityRecord identity, CancellationToken cancellationToken) =>
        ExecuteWriteAsync(
            "INSERT INTO identities (identity, type, token, created_at) VALUES ($identity, $type, $token, $created) ON CONFLICT(identity) DO NOTHING;",
            [("$identity", identity.Identity), ("$type", identity.Type), ("$token", (object?)identity.VerificationToken ?? DBNull.Value), ("$created", Format(identity.CreatedAt))],
            cancellationToken);

    public Task DeleteIdentityAsync(string identity, CancellationToken cancellationToken) =>
        ExecuteWriteAsync("DELETE FROM identities WHERE identity = $identity;", [("$identity", identity)], cancellationToken);

    public async Task<IReadOnlyList<IdentityRecord>> ListIdentitiesAsync(CancellationToken cancellationToken)
    {
        var list = new List<IdentityRecord>();
        await QueryAsync("SELECT identity, type, token, created_at FROM identities ORDER BY identity;", [], reader =>
            list.Add(new IdentityRecord(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), Parse(reader.GetString(3)))), cancellationToken);
        return list;
    }

    public Task InsertInvocationAsync(AsyncInvocationRecord invocation, CancellationToken cancellationToken) =>
        WriteInvocationAsync(invocation, """
            INSERT INTO invocations (id, function_name, payload, created_at, attempts, next_attempt_at, status, last_error, source)
            VALUES ($id, $function, $payload, $created, $attempts, $next, $status, $error, $source);
            """, cancellationToken);

    public Task UpdateInvocationAsync(AsyncInvocationRecord invocation, CancellationToken cancellationToken) =>
        WriteInvocationAsync(invocation, """
            UPDATE invocations SET attempts = $attempts, next_attempt_at = $next, status = $status, last_error = $error WHERE id = $id;
            """, cancellationToken);

    private Task WriteInvocationAsync(AsyncInvocationRecord invocation, string sql, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            command.Parameters.AddWithValue("$id", invocation.Id);
            command.Parameters.AddWithValue("$function", invocation.FunctionName);
            command.Parameters.AddWithValue("$payload", invocation.Payload);
            command.Parameters.AddWithValue("$created", Format(invocation.CreatedAt));
            command.Parameters.AddWithValue("$attempts", invocation.Attempts);
            command.Parameters.AddWithValue("$next", Format(invocation.NextAttemptAt));
            command.Parameters.AddWithValue("$status", invocation.Status);
            command.Parameters.AddWithValue("$error", (object?)invocation.LastError ?? DBNull.Value);
            command.Parameters.AddWithValue("$source", (object?)invocation.Source ?? DBNull.Value);
            await command.ExecuteNonQueryAsync(cancellationToken);
            return null;
        }, cancellationToken);

    public Task DeleteInvocationAsync(string id, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "DELETE FROM invocations WHERE id = $id;";
            command.Parameters.AddWithValue("$id", id);
            await command.ExecuteNonQueryAsync(cancellationToken);
            return null;
        }, cancellationToken);

    public async Task<AsyncInvocationRecord?> GetInvocationAsync(string id, CancellationToken cancellationToken) =>
        (await QueryInvocationsAsync("WHERE id = $id", [("$id", id)], cancellationToken)).FirstOrDefault();

    public Task<IReadOnlyList<AsyncInvocationRecord>> ListDueInvocationsAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken) =>
        QueryInvocationsAsync($"WHERE status = '{InvocationStatus.Pending}' AND next_attempt_at <= $now ORDER BY next_attempt_at LIMIT $limit", [("$now", Format(now)), ("$limit", limit)], cancellationToken);

    public Task<IReadOnlyList<AsyncInvocationRecord>> ListInvocationsAsync(string status, int limit, CancellationToken cancellationToken) =>
        QueryInvocationsAsync("WHERE status = $status ORDER BY created_at DESC LIMIT $limit", [("$status", status), ("$limit", limit)], cancellationToken);

    public async Task<DateTimeOffset?> NextInvocationDueAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT MIN(next_attempt_at) FROM invocations WHERE status = '{InvocationStatus.Pending}';";
        return await command.ExecuteScalarAsync(cancellationToken) is string text ? Parse(text) : null;
    }

    private async Task<IReadOnlyList<AsyncInvocationRecord>> QueryInvocationsAsync(string clause, (string Name, object Value)[] parameters, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT id, function_name, payload, created_at, attempts, next_attempt_at, status, last_error, source FROM invocations {clause};";
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var list = new List<AsyncInvocationRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new AsyncInvocationRecord
            {
                Id = reader.GetString(0),
                FunctionName = reader.GetString(1),
                Payload = (byte[])reader.GetValue(2),
                CreatedAt = Parse(reader.GetString(3)),
                Attempts = reader.GetInt32(4),
                NextAttemptAt = Parse(reader.GetString(5)),
                Status = reader.GetString(6),
                LastError = reader.IsDBNull(7) ? null : reader.GetString(7),
                Source = reader.IsDBNull(8) ? null : reader.GetString(8),
            });
        }

        return list;
    }

    public Task PutTopicAsync(TopicRecord topic, CancellationToken cancellationToken) =>
        ExecuteWriteAsync(
            "INSERT INTO topics (arn, name, attributes, created_at) VALUES ($arn, $name, $attributes, $created) ON CONFLICT(arn) DO UPDATE SET attributes = excluded.attributes;",
            [("$arn", topic.Arn), ("$name", topic.Name), ("$attributes", WriteMap(topic.Attributes)), ("$created", Format(topic.CreatedAt))],
            cancellationToken);

    public Task DeleteTopicAsync(string arn, CancellationToken cancellationToken) =>
        ExecuteWriteAsync("DELETE FROM topics WHERE arn = $arn; DELETE FROM subscriptions WHERE topic_arn = $arn;", [("$arn", arn)], cancellationToken);

    public async Task<IReadOnlyList<TopicRecord>> ListTopicsAsync(CancellationToken cancellationToken)
    {
        var list = new List<TopicRecord>();
        await QueryAsync("SELECT arn, name, attributes, created_at FROM topics ORDER BY arn;", [], reader =>
            list.Add(new TopicRecord(reader.GetString(0), reader.GetString(1), ReadMap(reader.GetString(2)), Parse(reader.GetString(3)))), cancellationToken);
        return list;
    }

    public Task PutSubscriptionAsync(SubscriptionRecord s, CancellationToken cancellationToken) =>
        ExecuteWriteAsync(
            """
            INSERT INTO subscriptions (arn, topic_arn, protocol, endpoint, confirmed, token, attributes, created_at)
            VALUES ($arn, $topic, $protocol, $endpoint, $confirmed, $token, $attributes, $created)
            ON CONFLICT(arn) DO UPDATE SET confirmed = excluded.confirmed, token = excluded.token, attributes = excluded.attributes;
            """,
            [("$arn", s.Arn), ("$topic", s.TopicArn), ("$protocol", s.Protocol), ("$endpoint", s.Endpoint), ("$confirmed", s.Confirmed), ("$token", s.Token), ("$attributes", WriteMap(s.Attributes)), ("$created", Format(s.CreatedAt))],
            cancellationToken);

    public Task DeleteSubscriptionAsync(string arn, CancellationToken cancellationToken) =>
        ExecuteWriteAsync("DELETE FROM subscriptions WHERE arn = $arn;", [("$arn", arn)], cancellationToken);

    public async Task<IReadOnlyList<SubscriptionRecord>> ListSubscriptionsAsync(CancellationToken cancellationToken)
    {
        var list = new List<SubscriptionRecord>();
        await QueryAsync("SELECT arn, topic_arn, protocol, endpoint, confirmed, token, attributes, created_at FROM subscriptions ORDER BY created_at, arn;", [], reader =>
            list.Add(new SubscriptionRecord
            {
                Arn = reader.GetString(0),
                TopicArn = reader.GetString(1),
                Protocol = reader.GetString(2),
                Endpoint = reader.GetString(3),
                Confirmed = reader.GetBoolean(4),
                Token = reader.GetString(5),
                Attributes = ReadMap(reader.GetString(6)),
                CreatedAt = Parse(reader.GetString(7)),
            }), cancellationToken);
        return list;
    }

    public Task InsertDeliveriesAsync(IReadOnlyList<DeliveryRecord> deliveries, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            foreach (var d in deliveries)
            {
                await using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = """
                    INSERT INTO deliveries (id, subscription_arn, endpoint, topic_arn, message_type, message_id, body, created_at, attempts, next_attempt_at, status, last_error, delivered_at)
                    VALUES ($id, $subscription, $endpoint, $topic, $type, $message, $body, $created, $attempts, $next, $status, $error, $delivered);
                    """;
                AddDelivery(command, d);
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            return null;
        }, cancellationToken);

    public Task UpdateDeliveryAsync(DeliveryRecord delivery, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "UPDATE deliveries SET attempts = $attempts, next_attempt_at = $next, status = $status, last_error = $error, delivered_at = $delivered WHERE id = $id;";
            AddDelivery(command, delivery);
            await command.ExecuteNonQueryAsync(cancellationToken);
            return null;
        }, cancellationToken);

    private static void AddDelivery(SqliteCommand command, DeliveryRecord d)
    {
        command.Parameters.AddWithValue("$id", d.Id);
        command.Parameters.AddWithValue("$subscription", d.SubscriptionArn);
        command.Parameters.AddWithValue("$endpoint", d.Endpoint);
        command.Parameters.AddWithValue("$topic", d.TopicArn);
        command.Parameters.AddWithValue("$type", d.MessageType);
        command.Parameters.AddWithValue("$message", d.MessageId);
        command.Parameters.AddWithValue("$body", d.Body);
        command.Parameters.AddWithValue("$created", Format(d.CreatedAt));
        command.Parameters.AddWithValue("$attempts", d.Attempts);
        command.Parameters.AddWithValue("$next", Format(d.NextAttemptAt));
        command.Parameters.AddWithValue("$status", d.Status);
        command.Parameters.AddWithValue("$error", (object?)d.LastError ?? DBNull.Value);
        command.Parameters.AddWithValue("$delivered", d.DeliveredAt is { } at ? Format(at) : DBNull.Value);
    }

    public Task<IReadOnlyList<DeliveryRecord>> ListDueDeliveriesAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken) =>
        QueryDeliveriesAsync($"WHERE status = '{DeliveryStatus.Pending}' AND next_attempt_at <= $now ORDER BY next_attempt_at LIMIT $limit", [("$now", Format(now)), ("$limit", limit)], cancellationToken);

    public Task<IReadOnlyList<DeliveryRecord>> ListDeliveriesAsync(string? status, int limit, CancellationToken cancellationToken) =>
        status is null
            ? QueryDeliveriesAsync("ORDER BY created_at DESC LIMIT $limit", [("$limit", limit)], cancellationToken)
            : QueryDeliveriesAsync("WHERE status = $status ORDER BY created_at DESC LIMIT $limit", [("$status", status), ("$limit", limit)], cancellationToken);

    public async Task<DateTimeOffset?> NextDeliveryDueAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT MIN(next_attempt_at) FROM deliveries WHERE status = '{DeliveryStatus.Pending}';";
        return await command.ExecuteScalarAsync(cancellationToken) is string text ? Parse(text) : null;
    }

    private async Task<IReadOnlyList<DeliveryRecord>> QueryDeliveriesAsync(string clause, (string Name, object Value)[] parameters, CancellationToken cancellationToken)
    {
        var list = new List<DeliveryRecord>();
        await QueryAsync($"SELECT id, subscription_arn, topic_arn, message_type, message_id, body, created_at, attempts, next_attempt_at, status, last_error, delivered_at, endpoint FROM deliveries {clause};", parameters, reader =>
            list.Add(new DeliveryRecord
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
                LastError = reader.IsDBNull(10) ? null : reader.GetString(10),
                DeliveredAt = reader.IsDBNull(11) ? null : Parse(reader.GetString(11)),
                Endpoint = reader.GetString(12),
            }), cancellationToken);
        return list;
    }

    private Task ExecuteWriteAsync(string sql, (string Name, object Value)[] parameters, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value);
            }

            await command.ExecuteNonQueryAsync(cancellationToken);
            return null;
        }, cancellationToken);

    private async Task QueryAsync(string sql, (string Name, object Value)[] parameters, Action<SqliteDataReader> row, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            row(reader);
        }
    }

    private static string WriteMap(IReadOnlyDictionary<string, string> map) =>
        JsonSerializer.Serialize(map.ToDictionary(p => p.Key, p => p.Value), StorageJsonContext.Default.DictionaryStringString);

    private static Dictionary<string, string> ReadMap(string json) =>
        JsonSerializer.Deserialize(json, StorageJsonContext.Default.DictionaryStringString) ?? [];

    public async Task<MessageRecord?> GetMessageAsync(string id, CancellationToken cancellationToken)
    {
        var list = await QueryMessagesAsync("WHERE id = $id", [("$id", id)], cancellationToken);
        return list.Count == 0 ? null : list[0];
    }

    public async Task<bool> MessageExistsAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1 FROM messages WHERE id = $id;";
        command.Parameters.AddWithValue("$id", id);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    public async Task<MessagePage> ListMessagesAsync(int limit, string? before, CancellationToken cancellationToken)
    {
        // Message ids begin with their arrival time, so id order is arrival order.
        var list = before is null
            ? await QueryMessagesAsync("ORDER BY id DESC LIMIT $limit", [("$limit", limit + 1)], cancellationToken)
            : await QueryMessagesAsync("WHERE id < $before ORDER BY id DESC LIMIT $limit", [("$before", before), ("$limit", limit + 1)], cancellationToken);
        return list.Count > limit
            ? new MessagePage(list.Take(limit).ToList(), list[limit - 1].Id)
            : new MessagePage(list, null);
    }

    public async Task<MessagePage> SearchMessagesAsync(MessageFilter filter, int limit, string? before, CancellationToken cancellationToken)
    {
        var conditions = new List<string>();
        var parameters = new List<(string Name, object Value)> { ("$limit", limit + 1) };
        if (before is not null)
        {
            conditions.Add("id < $before");
            parameters.Add(("$before", before));
        }

        if (filter.Status is { } status)
        {
            conditions.Add("status = $status");
            parameters.Add(("$status", status));
        }

        void Like(string? value, string name, string sql)
        {
            if (!string.IsNullOrEmpty(value))
            {
                conditions.Add(sql);
                parameters.Add((name, "%" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%"));
            }
        }

        // Substrings, case-insensitive for ASCII (SQLite's LIKE); newest first along the primary key, so a page
        // costs as many rows as it takes to find it, and stops there.
        Like(filter.From, "$from", "mail_from LIKE $from ESCAPE '\\'");
        Like(filter.To, "$to", "recipients LIKE $to ESCAPE '\\'");
        Like(filter.Subject, "$subject", "subject LIKE $subject ESCAPE '\\'");
        Like(filter.Text, "$text", "(mail_from LIKE $text ESCAPE '\\' OR recipients LIKE $text ESCAPE '\\' OR subject LIKE $text ESCAPE '\\' OR id = $exact)");
        if (!string.IsNullOrEmpty(filter.Text))
        {
            parameters.Add(("$exact", filter.Text));
        }

        var where = conditions.Count == 0 ? string.Empty : "WHERE " + string.Join(" AND ", conditions);
        var list = await QueryMessagesAsync($"{where} ORDER BY id DESC LIMIT $limit", [.. parameters], cancellationToken);
        return list.Count > limit
            ? new MessagePage(list.Take(limit).ToList(), list[limit - 1].Id)
            : new MessagePage(list, null);
    }

    public Task<IReadOnlyList<MessageRecord>> ListUpdatedSinceAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken) =>
        QueryMessagesAsync("WHERE updated_at >= $since ORDER BY updated_at LIMIT $limit", [("$since", Format(since)), ("$limit", limit)], cancellationToken);

    public Task<IReadOnlyList<MessageRecord>> ListUnfinishedAsync(CancellationToken cancellationToken) =>
        QueryMessagesAsync($"WHERE status IN ('{MessageStatus.Queued}', '{MessageStatus.Processing}', '{MessageStatus.Retrying}', '{MessageStatus.Inline}') ORDER BY id", [], cancellationToken);

    public async Task<long> SaveConfigurationAsync(string document, CancellationToken cancellationToken)
    {
        var result = await WriteAsync(async (connection, transaction) =>
        {
            await using var latest = connection.CreateCommand();
            latest.Transaction = transaction;
            latest.CommandText = "SELECT version, document FROM config_versions ORDER BY version DESC LIMIT 1;";
            long version = 0;
            await using (var reader = await latest.ExecuteReaderAsync(cancellationToken))
            {
                if (await reader.ReadAsync(cancellationToken))
                {
                    version = reader.GetInt64(0);
                    if (reader.GetString(1) == document)
                    {
                        return (object?)version;
                    }
                }
            }

            await using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO config_versions (version, created_at, document) VALUES ($version, $now, $document);";
            insert.Parameters.AddWithValue("$version", version + 1);
            insert.Parameters.AddWithValue("$now", Format(DateTimeOffset.UtcNow));
            insert.Parameters.AddWithValue("$document", document);
            await insert.ExecuteNonQueryAsync(cancellationToken);
            return version + 1;
        }, cancellationToken);
        return (long)result!;
    }

    public async Task<string?> GetConfigurationAsync(long version, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT document FROM config_versions WHERE version = $version;";
        command.Parameters.AddWithValue("$version", version);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public Task PutFunctionAsync(string name, string definition, CancellationToken cancellationToken) =>
        ExecuteWriteAsync("INSERT INTO functions (name, definition) VALUES ($name, $definition) ON CONFLICT(name) DO UPDATE SET definition = excluded.definition;", [("$name", name), ("$definition", definition)], cancellationToken);

    public Task DeleteFunctionAsync(string name, CancellationToken cancellationToken) =>
        ExecuteWriteAsync("DELETE FROM functions WHERE name = $name;", [("$name", name)], cancellationToken);

    public async Task<IReadOnlyList<string>> ListFunctionsAsync(CancellationToken cancellationToken)
    {
        var list = new List<string>();
        await QueryAsync("SELECT definition FROM functions ORDER BY name;", [], reader => list.Add(reader.GetString(0)), cancellationToken);
        return list;
    }

    public async Task<(long Version, string Document)?> GetLatestConfigurationAsync(CancellationToken cancellationToken)
    {
        (long, string)? latest = null;
        await QueryAsync("SELECT version, document FROM config_versions ORDER BY version DESC LIMIT 1;", [], reader => latest = (reader.GetInt64(0), reader.GetString(1)), cancellationToken);
        return latest;
    }

    private async Task<IReadOnlyList<MessageRecord>> QueryMessagesAsync(string clause, (string Name, object Value)[] parameters, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT id, received_at, mail_from, recipients, remote_address, client_name, is_secure, tls_protocol,
                smtp_utf8, body_type, size, config_version, status, subject, updated_at, progress, trace, next_attempt_at
            FROM messages {clause};
            """;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var list = new List<MessageRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new MessageRecord
            {
                Id = reader.GetString(0),
                ReceivedAt = Parse(reader.GetString(1)),
                MailFrom = reader.GetString(2),
                Recipients = JsonSerializer.Deserialize(reader.GetString(3), StorageJsonContext.Default.IReadOnlyListString) ?? [],
                RemoteAddress = reader.IsDBNull(4) ? null : reader.GetString(4),
                ClientName = reader.IsDBNull(5) ? null : reader.GetString(5),
                IsSecure = reader.GetBoolean(6),
                TlsProtocol = reader.IsDBNull(7) ? null : reader.GetString(7),
                SmtpUtf8 = reader.GetBoolean(8),
                BodyType = reader.GetString(9),
                Size = reader.GetInt64(10),
                ConfigVersion = reader.GetInt64(11),
                Status = reader.GetString(12),
                Subject = reader.IsDBNull(13) ? null : reader.GetString(13),
                UpdatedAt = Parse(reader.GetString(14)),
                Progress = reader.IsDBNull(15) ? null : reader.GetString(15),
                Trace = reader.IsDBNull(16) ? null : reader.GetString(16),
                NextAttemptAt = reader.IsDBNull(17) ? null : Parse(reader.GetString(17)),
            });
        }

        return list;
    }

    private async Task<object?> WriteAsync(Func<SqliteConnection, SqliteTransaction, Task<object?>> run, CancellationToken cancellationToken)
    {
        var completion = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_writes.Writer.TryWrite(new WriteOperation(run, completion)))
        {
            throw new ObjectDisposedException(nameof(SqliteStateStore));
        }

        return await completion.Task.WaitAsync(cancellationToken);
    }

    private async Task WriterLoopAsync()
    {
        await using var connection = await OpenAsync(CancellationToken.None);
        var batch = new List<WriteOperation>(MaxBatch);
        while (await _writes.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _writes.Reader.TryRead(out var operation))
            {
                batch.Add(operation);
            }

            var results = new object?[batch.Count];
            var errors = new Exception?[batch.Count];
            try
            {
                await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
                for (var i = 0; i < batch.Count; i++)
                {
                    await ExecuteAsync(connection, "SAVEPOINT op;", CancellationToken.None, transaction);
                    try
                    {
                        results[i] = await batch[i].Run(connection, transaction);
                        await ExecuteAsync(connection, "RELEASE op;", CancellationToken.None, transaction);
                    }
                    catch (Exception e) when (e is SqliteException or InvalidOperationException or JsonException)
                    {
                        errors[i] = e;
                        await ExecuteAsync(connection, "ROLLBACK TO op; RELEASE op;", CancellationToken.None, transaction);
                    }
                }

                await transaction.CommitAsync();
            }
            catch (Exception e)
            {
                foreach (var operation in batch)
                {
                    operation.Completion.TrySetException(e);
                }

                continue;
            }

            for (var i = 0; i < batch.Count; i++)
            {
                if (errors[i] is { } error)
                {
                    batch[i].Completion.TrySetException(error);
                }
                else
                {
                    batch[i].Completion.TrySetResult(results[i]);
                }
            }
        }
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        // FULL: a commit in WAL mode is fsynced before it returns, so an acknowledged message survives a crash.
        await ExecuteAsync(connection, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", cancellationToken);
        return connection;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, SqliteTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    private static string Format(DateTimeOffset time) => WireTime.IsoMilliseconds(time);

    private static DateTimeOffset Parse(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    public async ValueTask DisposeAsync()
    {
        _writes.Writer.TryComplete();
        if (_writer is not null)
        {
            await _writer;
        }

        SqliteConnection.ClearAllPools();
    }
}
