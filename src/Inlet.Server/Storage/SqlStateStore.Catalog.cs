namespace Inlet.Storage;

/// <summary>
/// What nodes cache — topics and subscriptions, sending identities, function definitions, configuration versions —
/// each change raising its aggregate's version in the change feed, in the same transaction.
/// </summary>
internal abstract partial class SqlStateStore
{
    public Task PutTopicAsync(TopicRecord topic, CancellationToken cancellationToken) =>
        ExecuteWriteAsync(
            "INSERT INTO topics (arn, name, attributes, created_at) VALUES (@arn, @name, @attributes, @created) ON CONFLICT(arn) DO UPDATE SET attributes = excluded.attributes;",
            [("@arn", topic.Arn), ("@name", topic.Name), ("@attributes", WriteMap(topic.Attributes)), ("@created", Format(topic.CreatedAt))],
            cancellationToken, StateAggregate.Topics);

    public Task DeleteTopicAsync(string arn, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, "DELETE FROM topics WHERE arn = @arn;", [("@arn", arn)], cancellationToken);
            await ExecuteAsync(connection, transaction, "DELETE FROM subscriptions WHERE topic_arn = @arn;", [("@arn", arn)], cancellationToken);
            await RaiseVersionAsync(connection, transaction, StateAggregate.Topics, cancellationToken);
            return null;
        }, cancellationToken);

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
            VALUES (@arn, @topic, @protocol, @endpoint, @confirmed, @token, @attributes, @created)
            ON CONFLICT(arn) DO UPDATE SET confirmed = excluded.confirmed, token = excluded.token, attributes = excluded.attributes;
            """,
            [("@arn", s.Arn), ("@topic", s.TopicArn), ("@protocol", s.Protocol), ("@endpoint", s.Endpoint), ("@confirmed", s.Confirmed), ("@token", s.Token), ("@attributes", WriteMap(s.Attributes)), ("@created", Format(s.CreatedAt))],
            cancellationToken, StateAggregate.Topics);

    public Task DeleteSubscriptionAsync(string arn, CancellationToken cancellationToken) =>
        ExecuteWriteAsync("DELETE FROM subscriptions WHERE arn = @arn;", [("@arn", arn)], cancellationToken, StateAggregate.Topics);

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

    public Task PutIdentityAsync(IdentityRecord identity, CancellationToken cancellationToken) =>
        ExecuteWriteAsync(
            "INSERT INTO identities (identity, type, token, created_at) VALUES (@identity, @type, @token, @created) ON CONFLICT(identity) DO NOTHING;",
            [("@identity", identity.Identity), ("@type", identity.Type), ("@token", identity.VerificationToken), ("@created", Format(identity.CreatedAt))],
            cancellationToken, StateAggregate.Identities);

    public Task DeleteIdentityAsync(string identity, CancellationToken cancellationToken) =>
        ExecuteWriteAsync("DELETE FROM identities WHERE identity = @identity;", [("@identity", identity)], cancellationToken, StateAggregate.Identities);

    public async Task<IReadOnlyList<IdentityRecord>> ListIdentitiesAsync(CancellationToken cancellationToken)
    {
        var list = new List<IdentityRecord>();
        await QueryAsync("SELECT identity, type, token, created_at FROM identities ORDER BY identity;", [], reader =>
            list.Add(new IdentityRecord(reader.GetString(0), reader.GetString(1), TextOrNull(reader, 2), Parse(reader.GetString(3)))), cancellationToken);
        return list;
    }

    public Task PutFunctionAsync(string name, string definition, CancellationToken cancellationToken) =>
        ExecuteWriteAsync("INSERT INTO functions (name, definition) VALUES (@name, @definition) ON CONFLICT(name) DO UPDATE SET definition = excluded.definition;",
            [("@name", name), ("@definition", definition)], cancellationToken, StateAggregate.Functions);

    public Task DeleteFunctionAsync(string name, CancellationToken cancellationToken) =>
        ExecuteWriteAsync("DELETE FROM functions WHERE name = @name;", [("@name", name)], cancellationToken, StateAggregate.Functions);

    public async Task<IReadOnlyList<string>> ListFunctionsAsync(CancellationToken cancellationToken)
    {
        var list = new List<string>();
        await QueryAsync("SELECT definition FROM functions ORDER BY name;", [], reader => list.Add(reader.GetString(0)), cancellationToken);
        return list;
    }

    public Task PutCodeAsync(string sha256, byte[] zip, CancellationToken cancellationToken) =>
        ExecuteWriteAsync("INSERT INTO function_code (sha256, zip) VALUES (@sha, @zip) ON CONFLICT(sha256) DO NOTHING;", [("@sha", sha256), ("@zip", zip)], cancellationToken);

    public async Task<byte[]?> GetCodeAsync(string sha256, CancellationToken cancellationToken) =>
        await ScalarAsync("SELECT zip FROM function_code WHERE sha256 = @sha;", [("@sha", sha256)], cancellationToken) as byte[];

    public async Task<long> SaveConfigurationAsync(string document, long basedOn, CancellationToken cancellationToken)
    {
        var result = await WriteAsync(async (connection, transaction) =>
        {
            await LockConfigurationAsync(connection, transaction, cancellationToken);
            long latest = 0;
            await using (var command = Command(connection, transaction, "SELECT version, document FROM config_versions ORDER BY version DESC LIMIT 1;", []))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                if (await reader.ReadAsync(cancellationToken))
                {
                    latest = reader.GetInt64(0);
                    if (reader.GetString(1) == document)
                    {
                        return (object?)latest;
                    }
                }
            }

            if (latest != basedOn)
            {
                throw new ConfigurationConflictException(basedOn, latest);
            }

            await ExecuteAsync(connection, transaction, "INSERT INTO config_versions (version, created_at, document) VALUES (@version, @now, @document);",
                [("@version", latest + 1), ("@now", Format(DateTimeOffset.UtcNow)), ("@document", document)], cancellationToken);
            await RaiseVersionAsync(connection, transaction, StateAggregate.Configuration, cancellationToken);
            return latest + 1;
        }, cancellationToken);
        return (long)result!;
    }

    public async Task<string?> GetConfigurationAsync(long version, CancellationToken cancellationToken) =>
        await ScalarAsync("SELECT document FROM config_versions WHERE version = @version;", [("@version", version)], cancellationToken) as string;

    public async Task<(long Version, string Document)?> GetLatestConfigurationAsync(CancellationToken cancellationToken)
    {
        (long, string)? latest = null;
        await QueryAsync("SELECT version, document FROM config_versions ORDER BY version DESC LIMIT 1;", [], reader => latest = (reader.GetInt64(0), reader.GetString(1)), cancellationToken);
        return latest;
    }

    public async Task<IReadOnlyDictionary<string, long>> ReadVersionsAsync(CancellationToken cancellationToken)
    {
        var versions = new Dictionary<string, long>();
        await QueryAsync("SELECT aggregate, version FROM changes;", [], reader => versions[reader.GetString(0)] = reader.GetInt64(1), cancellationToken);
        return versions;
    }

    public virtual Task WaitForChangeAsync(TimeSpan timeout, CancellationToken cancellationToken) => Task.Delay(timeout, cancellationToken);

    protected async Task RaiseVersionAsync(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, string aggregate, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, transaction,
            "INSERT INTO changes (aggregate, version) VALUES (@aggregate, 1) ON CONFLICT(aggregate) DO UPDATE SET version = changes.version + 1;",
            [("@aggregate", aggregate)], cancellationToken);
        await NotifyChangeAsync(connection, transaction, aggregate, cancellationToken);
    }
}
