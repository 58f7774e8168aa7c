using System.Data.Common;
using Npgsql;

namespace Inlet.Storage;

/// <summary>
/// The state store for several nodes: one PostgreSQL database that every node shares. Each write is its own
/// transaction (PostgreSQL commits concurrent transactions together in one WAL flush); claims take rows with
/// <c>FOR UPDATE SKIP LOCKED</c>, so nodes claiming at once never wait for or take each other's rows; a change to a
/// cached aggregate is announced with <c>NOTIFY</c> when its transaction commits, and every node <c>LISTEN</c>s.
/// </summary>
internal sealed class PostgresStateStore : SqlStateStore
{
    private const string Channel = "inlet_changes";

    // pg_advisory_lock keys: one for the schema's migrations, one for writers of configuration versions.
    private const long MigrationLock = 0x1_1e7_0001;
    private const long ConfigurationLock = 0x1_1e7_0002;

    private readonly NpgsqlDataSource _source;
    private readonly SemaphoreSlim _changed = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _listener;

    public PostgresStateStore(string connectionString, string nodeId)
        : base(nodeId)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        // A node that cannot reach the database answers 451 soon, rather than holding SMTP sessions for the default 15 s.
        if (!new DbConnectionStringBuilder { ConnectionString = connectionString }.ContainsKey("Timeout"))
        {
            builder.Timeout = 5;
        }

        _source = NpgsqlDataSource.Create(builder.ConnectionString);
    }

    /// <summary>The schema, version by version; each step runs once, under the migration lock.</summary>
    private static readonly string[] s_migrations =
    [
        // Text columns that hold ids and times compare byte by byte (COLLATE "C"): times are fixed-width ISO 8601,
        // message ids begin with their time, and both must sort as the embedded store sorts them.
        """
        CREATE TABLE messages (
            id TEXT COLLATE "C" PRIMARY KEY,
            received_at TEXT COLLATE "C" NOT NULL,
            mail_from TEXT NOT NULL,
            recipients TEXT NOT NULL,
            remote_address TEXT,
            client_name TEXT,
            is_secure BOOLEAN NOT NULL,
            tls_protocol TEXT,
            smtp_utf8 BOOLEAN NOT NULL,
            body_type TEXT NOT NULL,
            size BIGINT NOT NULL,
            config_version BIGINT NOT NULL,
            status TEXT NOT NULL,
            subject TEXT,
            updated_at TEXT COLLATE "C" NOT NULL,
            progress TEXT,
            trace TEXT,
            next_attempt_at TEXT COLLATE "C",
            lease_owner TEXT,
            lease_until TEXT COLLATE "C");
        CREATE INDEX messages_unfinished ON messages(status) WHERE status IN ('queued', 'processing', 'retrying', 'inline');
        CREATE INDEX messages_updated ON messages(updated_at);
        CREATE INDEX messages_status ON messages(status, id);
        CREATE TABLE config_versions (version BIGINT PRIMARY KEY, created_at TEXT NOT NULL, document TEXT NOT NULL);
        CREATE TABLE outbox (
            id TEXT COLLATE "C" PRIMARY KEY,
            created_at TEXT COLLATE "C" NOT NULL,
            kind TEXT NOT NULL,
            message_id TEXT NOT NULL,
            ses_message_id TEXT,
            mail_from TEXT NOT NULL,
            recipient TEXT NOT NULL,
            recipients TEXT,
            subject TEXT NOT NULL,
            size BIGINT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT COLLATE "C",
            last_error TEXT,
            sent_at TEXT,
            lease_owner TEXT,
            lease_until TEXT COLLATE "C");
        CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status = 'pending';
        CREATE TABLE invocations (
            id TEXT COLLATE "C" PRIMARY KEY,
            function_name TEXT NOT NULL,
            payload BYTEA NOT NULL,
            created_at TEXT COLLATE "C" NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt_at TEXT COLLATE "C" NOT NULL,
            status TEXT NOT NULL,
            last_error TEXT,
            source TEXT,
            lease_owner TEXT,
            lease_until TEXT COLLATE "C");
        CREATE INDEX invocations_due ON invocations(next_attempt_at) WHERE status = 'pending';
        CREATE TABLE topics (arn TEXT COLLATE "C" PRIMARY KEY, name TEXT NOT NULL, attributes TEXT NOT NULL, created_at TEXT COLLATE "C" NOT NULL);
        CREATE TABLE subscriptions (
            arn TEXT COLLATE "C" PRIMARY KEY, topic_arn TEXT NOT NULL, protocol TEXT NOT NULL, endpoint TEXT NOT NULL,
            confirmed BOOLEAN NOT NULL, token TEXT NOT NULL, attributes TEXT NOT NULL, created_at TEXT COLLATE "C" NOT NULL);
        CREATE TABLE deliveries (
            id TEXT COLLATE "C" PRIMARY KEY, subscription_arn TEXT NOT NULL, endpoint TEXT NOT NULL, topic_arn TEXT NOT NULL,
            message_type TEXT NOT NULL, message_id TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT COLLATE "C" NOT NULL,
            attempts INTEGER NOT NULL, next_attempt_at TEXT COLLATE "C" NOT NULL, status TEXT NOT NULL, last_error TEXT,
            delivered_at TEXT, lease_owner TEXT, lease_until TEXT COLLATE "C");
        CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE status = 'pending';
        CREATE TABLE functions (name TEXT COLLATE "C" PRIMARY KEY, definition TEXT NOT NULL);
        CREATE TABLE identities (identity TEXT COLLATE "C" PRIMARY KEY, type TEXT NOT NULL, token TEXT, created_at TEXT NOT NULL);
        CREATE TABLE changes (aggregate TEXT PRIMARY KEY, version BIGINT NOT NULL);
        """,
        // Zips uploaded through the Lambda API, by SHA-256, so that a function made through one node runs on any.
        "CREATE TABLE function_code (sha256 TEXT PRIMARY KEY, zip BYTEA NOT NULL);",
    ];

    protected override string LikeInsensitive => "ILIKE";

    protected override string SkipLocked => "FOR UPDATE SKIP LOCKED";

    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _source.OpenConnectionAsync(cancellationToken);

    protected override async Task<object?> WriteAsync(Func<DbConnection, DbTransaction, Task<object?>> run, CancellationToken cancellationToken)
    {
        await using var connection = await _source.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var result = await run(connection, transaction);
        // The commit returns once the WAL is flushed (synchronous_commit on, PostgreSQL's default).
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    /// <summary>Nodes that start at once take turns: the first migrates, the others find the schema done.</summary>
    protected override async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _source.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(connection, null, "SELECT pg_advisory_lock(@key);", [("@key", MigrationLock)], cancellationToken);
        try
        {
            await ExecuteAsync(connection, null, "CREATE TABLE IF NOT EXISTS inlet_schema (version INTEGER NOT NULL);", [], cancellationToken);
            await using var read = Command(connection, null, "SELECT max(version) FROM inlet_schema;", []);
            var version = await read.ExecuteScalarAsync(cancellationToken) is int v ? v : 0;
            if (version > s_migrations.Length)
            {
                throw new InvalidOperationException($"The PostgreSQL schema is at version {version}, newer than this Inlet knows ({s_migrations.Length}); upgrade this node.");
            }

            for (var step = version; step < s_migrations.Length; step++)
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await ExecuteAsync(connection, transaction, s_migrations[step], [], cancellationToken);
                await ExecuteAsync(connection, transaction, "INSERT INTO inlet_schema (version) VALUES (@version);", [("@version", step + 1)], cancellationToken);
                await transaction.CommitAsync(cancellationToken);
            }
        }
        finally
        {
            await ExecuteAsync(connection, null, "SELECT pg_advisory_unlock(@key);", [("@key", MigrationLock)], CancellationToken.None);
        }

        _listener = Task.Run(() => ListenAsync(_stopping.Token), CancellationToken.None);
    }

    protected override Task LockConfigurationAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(@key);", [("@key", ConfigurationLock)], cancellationToken);

    protected override Task NotifyChangeAsync(DbConnection connection, DbTransaction transaction, string aggregate, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "SELECT pg_notify(@channel, @aggregate);", [("@channel", Channel), ("@aggregate", aggregate)], cancellationToken);

    public override async Task WaitForChangeAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        // A notification wakes the watcher at once; the timeout still bounds the wait, should one be missed while
        // the listening connection was being made again.
        await _changed.WaitAsync(timeout, cancellationToken);
        while (_changed.CurrentCount > 0)
        {
            await _changed.WaitAsync(0, cancellationToken);
        }
    }

    private async Task ListenAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _source.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, _) => _changed.Release();
                await ExecuteAsync(connection, null, $"LISTEN {Channel};", [], stoppingToken);
                // What changed while this connection was being made is seen by the next look.
                _changed.Release();
                while (!stoppingToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_listener is not null)
        {
            await _listener.ContinueWith(_ => { }, TaskScheduler.Default);
        }

        await _source.DisposeAsync();
        _stopping.Dispose();
    }
}
