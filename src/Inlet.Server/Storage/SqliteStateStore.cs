using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Inlet.Storage;

/// <summary>
/// The embedded state store: one SQLite database in WAL mode with <c>synchronous=FULL</c>, so a committed
/// transaction is on disk. Writes go through one writer that commits whatever is waiting in a single transaction
/// (group commit): under load, many messages share one fsync. One writer also makes each claim atomic.
/// </summary>
internal sealed partial class SqliteStateStore : SqlStateStore, ISmallBlobStore, IObjectJournal
{
    private const int SchemaVersion = 12;
    private const int MaxBatch = 256;

    /// <summary>Readers kept open between reads, each with its compiled statements; more at once are opened and closed.</summary>
    private const int MaxIdleReaders = 16;

    private readonly string _connectionString;
    private readonly Channel<WriteOperation> _writes = Channel.CreateUnbounded<WriteOperation>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConditionalWeakTable<DbConnection, PreparedCommands> _prepared = [];
    private readonly ConcurrentBag<SqliteConnection> _idleReaders = [];
    private readonly TaskCompletionSource _writerEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Thread? _writer;
    private volatile bool _disposed;
    private volatile Exception? _writerFault;

    public SqliteStateStore(string databasePath, string nodeId)
        : base(nodeId)
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

    private sealed record WriteOperation(Func<DbConnection, DbTransaction, Task<object?>> Run, TaskCompletionSource<object?> Completion);

    protected override async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenSqliteAsync(cancellationToken);
        await RunSqlAsync(connection, "PRAGMA journal_mode=WAL;", cancellationToken);
        var version = Convert.ToInt32(await PragmaAsync(connection, "PRAGMA user_version;", cancellationToken), CultureInfo.InvariantCulture);
        // The migrations are history and keep their text; the status values in their partial indexes are those of
        // Core/Statuses.cs, which the queries below use.
        if (version < 1)
        {
            await RunSqlAsync(connection, """
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
            await RunSqlAsync(connection, """
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
            await RunSqlAsync(connection, """
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
            await RunSqlAsync(connection, """
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
            await RunSqlAsync(connection, "CREATE TABLE IF NOT EXISTS functions (name TEXT PRIMARY KEY, definition TEXT NOT NULL);", cancellationToken);
        }

        if (version < 6)
        {
            // Outgoing mail of every kind shares the outbox; a pending row is a work item of the relay queue.
            await RunSqlAsync(connection, """
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
            await RunSqlAsync(connection, """
                CREATE INDEX IF NOT EXISTS messages_updated ON messages(updated_at);
                CREATE INDEX IF NOT EXISTS messages_status ON messages(status, id);
                """, cancellationToken);
        }

        if (version < 8)
        {
            // Work items are claimed for a lease, so that several nodes (on PostgreSQL) or one restarted node
            // never run one twice; cached aggregates raise a version counter when they change.
            await RunSqlAsync(connection, """
                ALTER TABLE messages ADD COLUMN lease_owner TEXT;
                ALTER TABLE messages ADD COLUMN lease_until TEXT;
                ALTER TABLE invocations ADD COLUMN lease_owner TEXT;
                ALTER TABLE invocations ADD COLUMN lease_until TEXT;
                ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
                ALTER TABLE deliveries ADD COLUMN lease_until TEXT;
                ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
                ALTER TABLE outbox ADD COLUMN lease_until TEXT;
                CREATE TABLE IF NOT EXISTS changes (aggregate TEXT PRIMARY KEY, version INTEGER NOT NULL);
                """, cancellationToken);
        }

        if (version < 9)
        {
            // Zips uploaded through the Lambda API, by SHA-256: on PostgreSQL, how a node runs a function made on another.
            await RunSqlAsync(connection, "CREATE TABLE IF NOT EXISTS function_code (sha256 TEXT PRIMARY KEY, zip BLOB NOT NULL);", cancellationToken);
        }

        if (version < 10)
        {
            // Small spooled messages, kept in the database so that their data and their record share its group commit.
            await RunSqlAsync(connection, "CREATE TABLE IF NOT EXISTS spool_blobs (container TEXT NOT NULL, key TEXT NOT NULL, data BLOB NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (container, key));", cancellationToken);
        }

        if (version < 11)
        {
            // Every claim and count by status goes along messages_status (status, id); the partial index on status
            // was only written, three times a message, on the one writer every message waits for.
            await RunSqlAsync(connection, "DROP INDEX IF EXISTS messages_unfinished;", cancellationToken);
        }

        if (version < 12)
        {
            // Small bucket objects, until the file system has their files on disk (JournaledBucketStore).
            await RunSqlAsync(connection, "CREATE TABLE IF NOT EXISTS object_journal (id INTEGER PRIMARY KEY, container TEXT NOT NULL, key TEXT NOT NULL, data BLOB NOT NULL);", cancellationToken);
        }

        if (version < SchemaVersion)
        {
            await RunSqlAsync(connection, $"PRAGMA user_version = {SchemaVersion};", cancellationToken);
        }

        // The writer has a thread of its own: SQLite's calls (and the commit's fsync) block, and on the thread
        // pool they would hold a worker that the SMTP sessions and the pipeline are waiting for.
        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "SQLite writer" };
        _writer.Start();
    }

    protected override async Task<object?> WriteAsync(Func<DbConnection, DbTransaction, Task<object?>> run, CancellationToken cancellationToken)
    {
        var completion = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_writes.Writer.TryWrite(new WriteOperation(run, completion)))
        {
            throw _writerFault is { } fault
                ? new InvalidOperationException($"The state store's writer stopped: {fault.Message}", fault)
                : new ObjectDisposedException(nameof(SqliteStateStore));
        }

        return await completion.Task.WaitAsync(cancellationToken);
    }

    /// <remarks>
    /// Microsoft.Data.Sqlite's asynchronous methods complete synchronously, so the operations are run to completion
    /// here, one after the other, without leaving the thread.
    /// </remarks>
    private void WriterLoop()
    {
        try
        {
            using var connection = OpenSqliteAsync(CancellationToken.None).GetAwaiter().GetResult();
            using var prepared = new PreparedCommands();
            _prepared.Add(connection, prepared);
            var batch = new List<WriteOperation>(MaxBatch);
            while (_writes.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _writes.Reader.TryRead(out var operation))
                {
                    batch.Add(operation);
                }

                CommitBatch(connection, batch);
            }
        }
        catch (Exception e)
        {
            // On a thread of its own an escaping exception would end the process. The writer stops instead: what
            // waits and what comes later fails with the cause (SMTP answers 451), and nothing acknowledged is lost.
            _writerFault = e;
            _writes.Writer.TryComplete(e);
            while (_writes.Reader.TryRead(out var waiting))
            {
                waiting.Completion.TrySetException(e);
            }
        }
        finally
        {
            _writerEnded.TrySetResult();
        }
    }

    /// <summary>One transaction for the batch, each operation in a savepoint of its own, so one failing fails only itself.</summary>
    private void CommitBatch(SqliteConnection connection, List<WriteOperation> batch)
    {
        var results = new object?[batch.Count];
        var errors = new Exception?[batch.Count];
        try
        {
            using var transaction = connection.BeginTransaction();
            for (var i = 0; i < batch.Count; i++)
            {
                Execute(connection, transaction, "SAVEPOINT op;");
                try
                {
                    results[i] = batch[i].Run(connection, transaction).GetAwaiter().GetResult();
                    Execute(connection, transaction, "RELEASE op;");
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    errors[i] = e;
                    Execute(connection, transaction, "ROLLBACK TO op; RELEASE op;");
                }
            }

            transaction.Commit();
        }
        catch (Exception e)
        {
            foreach (var operation in batch)
            {
                operation.Completion.TrySetException(e);
            }

            return;
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

    private void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql) =>
        ExecuteAsync(connection, transaction, sql, [], CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>A reader's connection: an idle one with its compiled statements, or a new one (reads need none of the writer's settings).</summary>
    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (_idleReaders.TryTake(out var idle))
        {
            return idle;
        }

        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        _prepared.Add(connection, new PreparedCommands());
        return connection;
    }

    protected override ValueTask ReturnAsync(DbConnection connection)
    {
        if (!_disposed && connection.State == System.Data.ConnectionState.Open && _idleReaders.Count < MaxIdleReaders)
        {
            _idleReaders.Add((SqliteConnection)connection);
            return ValueTask.CompletedTask;
        }

        return CloseReaderAsync(connection);
    }

    private ValueTask CloseReaderAsync(DbConnection connection)
    {
        if (_prepared.TryGetValue(connection, out var prepared))
        {
            prepared.Dispose();
            _prepared.Remove(connection);
        }

        return connection.DisposeAsync();
    }

    protected override PreparedCommands? PreparedOn(DbConnection connection) => _prepared.TryGetValue(connection, out var prepared) ? prepared : null;

    private async Task<SqliteConnection> OpenSqliteAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        // FULL: a commit in WAL mode is fsynced before it returns, so an acknowledged message survives a crash.
        await RunSqlAsync(connection, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", cancellationToken);
        return connection;
    }

    private static async Task RunSqlAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, SqliteTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<object?> PragmaAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    public override async ValueTask DisposeAsync()
    {
        _disposed = true;
        _writes.Writer.TryComplete();
        if (_writer is not null)
        {
            await _writerEnded.Task;
        }

        while (_idleReaders.TryTake(out var idle))
        {
            await CloseReaderAsync(idle);
        }

        SqliteConnection.ClearAllPools();
    }
}
