using System.Data.Common;

namespace Inlet.Storage;

/// <summary>Message records, and the message work queue.</summary>
internal abstract partial class SqlStateStore
{
    private const string MessageColumns = """
        id, received_at, mail_from, recipients, remote_address, client_name, is_secure, tls_protocol,
        smtp_utf8, body_type, size, config_version, status, subject, updated_at, progress, trace, next_attempt_at
        """;

    // Oldest first within each kind, leftovers of a stopped node first (an unleased processing message, or an inline
    // one, which a crash caught before its client was answered), then new messages, then retries whose time has come.
    private static readonly WorkTable<MessageRecord> s_messages = new("messages", MessageColumns,
        [
            new DueItems($"status = '{MessageStatus.Inline}'", "id"),
            new DueItems($"status = '{MessageStatus.Processing}'", "id"),
            new DueItems($"status = '{MessageStatus.Queued}'", "id"),
            new DueItems($"status = '{MessageStatus.Retrying}' AND next_attempt_at <= @now", "id"),
        ],
        MessageStatus.Retrying, ReadMessage);

    public Task InsertMessageAsync(MessageRecord message, TimeSpan? lease, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            await InsertMessageAsync(connection, transaction, message, lease, cancellationToken);
            return null;
        }, cancellationToken);

    /// <summary>The insert of a message record, within a write of the caller's.</summary>
    protected Task<int> InsertMessageAsync(DbConnection connection, DbTransaction transaction, MessageRecord message, TimeSpan? lease, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        return ExecuteAsync(connection, transaction, """
            INSERT INTO messages (id, received_at, mail_from, recipients, remote_address, client_name, is_secure,
                tls_protocol, smtp_utf8, body_type, size, config_version, status, subject, updated_at, progress, trace,
                next_attempt_at, lease_owner, lease_until)
            VALUES (@id, @received_at, @mail_from, @recipients, @remote_address, @client_name, @is_secure,
                @tls_protocol, @smtp_utf8, @body_type, @size, @config_version, @status, @subject, @updated_at, @progress, @trace,
                @next, @owner, @until);
            """,
            [
                ("@id", message.Id), ("@received_at", Format(message.ReceivedAt)), ("@mail_from", message.MailFrom),
                ("@recipients", WriteList(message.Recipients)), ("@remote_address", message.RemoteAddress), ("@client_name", message.ClientName),
                ("@is_secure", message.IsSecure), ("@tls_protocol", message.TlsProtocol), ("@smtp_utf8", message.SmtpUtf8),
                ("@body_type", message.BodyType), ("@size", message.Size), ("@config_version", message.ConfigVersion),
                ("@status", message.Status), ("@subject", message.Subject), ("@updated_at", Format(now)),
                // An inline message is recorded once, when its run has ended: with its outcome and trace.
                ("@progress", message.Progress), ("@trace", message.Trace), ("@next", Format(message.NextAttemptAt)),
                ("@owner", lease is null ? null : Owner), ("@until", lease is { } l ? Format(now + l) : null),
            ],
            cancellationToken);
    }

    public Task<bool> UpdateMessageAsync(MessageUpdate update, CancellationToken cancellationToken) =>
        UpdateUnlessLeasedAsync($"""
            UPDATE messages SET status = @status, subject = COALESCE(@subject, subject), progress = @progress,
                trace = COALESCE(@trace, trace), next_attempt_at = @next, config_version = COALESCE(@config, config_version),
                updated_at = @now,
                lease_owner = CASE WHEN @ended THEN NULL ELSE lease_owner END,
                lease_until = CASE WHEN @ended THEN NULL ELSE lease_until END
            WHERE id = @id AND {NotLeasedByAnother};
            """,
            [
                ("@id", update.Id), ("@status", update.Status), ("@subject", update.Subject), ("@progress", update.Progress),
                ("@trace", update.Trace), ("@next", Format(update.NextAttemptAt)), ("@config", update.ConfigVersion),
                // A message whose run ended — finished, or waiting for its next attempt — is no work item of this
                // node's: the update that ends the run gives up its lease in the same transaction, so no finished
                // message holds one (not even when the node dies before releasing) and no release follows.
                ("@ended", MessageUpdate.EndsRun(update.Status)),
            ], cancellationToken);

    public async Task<MessageRecord?> GetMessageAsync(string id, CancellationToken cancellationToken) =>
        (await QueryMessagesAsync("WHERE id = @id", [("@id", id)], cancellationToken)).FirstOrDefault();

    public async Task<bool> MessageExistsAsync(string id, CancellationToken cancellationToken) =>
        await ScalarAsync("SELECT 1 FROM messages WHERE id = @id;", [("@id", id)], cancellationToken) is not null;

    public Task<MessagePage> ListMessagesAsync(int limit, string? before, CancellationToken cancellationToken) =>
        SearchMessagesAsync(new MessageFilter(), limit, before, cancellationToken);

    public async Task<MessagePage> SearchMessagesAsync(MessageFilter filter, int limit, string? before, CancellationToken cancellationToken)
    {
        var conditions = new List<string>();
        var parameters = new List<(string Name, object? Value)> { ("@limit", limit + 1) };
        if (before is not null)
        {
            conditions.Add("id < @before");
            parameters.Add(("@before", before));
        }

        if (filter.Status is { } status)
        {
            conditions.Add("status = @status");
            parameters.Add(("@status", status));
        }

        void Like(string? value, string name, string sql)
        {
            if (!string.IsNullOrEmpty(value))
            {
                conditions.Add(sql);
                parameters.Add((name, "%" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%"));
            }
        }

        // Substrings, case-insensitive; newest first along the primary key (message ids begin with their arrival
        // time, so id order is arrival order), so a page costs as many rows as it takes to find it, and stops there.
        var like = LikeInsensitive;
        Like(filter.From, "@from", $"mail_from {like} @from ESCAPE '\\'");
        Like(filter.To, "@to", $"recipients {like} @to ESCAPE '\\'");
        Like(filter.Subject, "@subject", $"subject {like} @subject ESCAPE '\\'");
        Like(filter.Text, "@text", $"(mail_from {like} @text ESCAPE '\\' OR recipients {like} @text ESCAPE '\\' OR subject {like} @text ESCAPE '\\' OR id = @exact)");
        if (!string.IsNullOrEmpty(filter.Text))
        {
            parameters.Add(("@exact", filter.Text));
        }

        var where = conditions.Count == 0 ? string.Empty : "WHERE " + string.Join(" AND ", conditions);
        var list = await QueryMessagesAsync($"{where} ORDER BY id DESC LIMIT @limit", [.. parameters], cancellationToken);
        return list.Count > limit
            ? new MessagePage(list.Take(limit).ToList(), list[limit - 1].Id)
            : new MessagePage(list, null);
    }

    public Task<IReadOnlyList<MessageRecord>> ListUpdatedSinceAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken) =>
        QueryMessagesAsync("WHERE updated_at >= @since ORDER BY updated_at LIMIT @limit", [("@since", Format(since)), ("@limit", limit)], cancellationToken);

    private async Task<IReadOnlyList<MessageRecord>> QueryMessagesAsync(string clause, (string Name, object? Value)[] parameters, CancellationToken cancellationToken)
    {
        var list = new List<MessageRecord>();
        await QueryAsync($"SELECT {MessageColumns} FROM messages {clause};", parameters, reader => list.Add(ReadMessage(reader)), cancellationToken);
        return list;
    }

    private static MessageRecord ReadMessage(DbDataReader reader) => new()
    {
        Id = reader.GetString(0),
        ReceivedAt = Parse(reader.GetString(1)),
        MailFrom = reader.GetString(2),
        Recipients = ReadList(reader.GetString(3)),
        RemoteAddress = TextOrNull(reader, 4),
        ClientName = TextOrNull(reader, 5),
        IsSecure = reader.GetBoolean(6),
        TlsProtocol = TextOrNull(reader, 7),
        SmtpUtf8 = reader.GetBoolean(8),
        BodyType = reader.GetString(9),
        Size = reader.GetInt64(10),
        ConfigVersion = reader.GetInt64(11),
        Status = reader.GetString(12),
        Subject = TextOrNull(reader, 13),
        UpdatedAt = Parse(reader.GetString(14)),
        Progress = TextOrNull(reader, 15),
        Trace = TextOrNull(reader, 16),
        NextAttemptAt = TimeOrNull(reader, 17),
    };
}
