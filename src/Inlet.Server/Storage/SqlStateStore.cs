using System.Data.Common;
using System.Globalization;
using System.Text.Json;

namespace Inlet.Storage;

/// <summary>
/// The state store's SQL, written once for the engines Inlet runs on: the embedded SQLite database and PostgreSQL.
/// Each aggregate has its own file of this partial class; the engines supply the connections, the way writes are
/// committed, the schema, and the few phrases their SQL differs in. Times are stored as fixed-width ISO 8601 text
/// (UTC, milliseconds), so that text order is time order in both.
/// </summary>
internal abstract partial class SqlStateStore : IStateStore
{
    protected SqlStateStore(string nodeId)
    {
        NodeId = nodeId;
        Owner = $"{nodeId}/{Guid.NewGuid().ToString("N")[..8]}";
    }

    /// <summary>The node's configured id; leases of its earlier runs begin with it.</summary>
    public string NodeId { get; }

    /// <summary>This node's name in the leases it takes: the node id and the run.</summary>
    public string Owner { get; }

    /// <summary>The case-insensitive <c>LIKE</c> of the engine.</summary>
    protected virtual string LikeInsensitive => "LIKE";

    /// <summary>What a claim's inner select ends with, so that nodes claiming at once take different rows.</summary>
    protected virtual string SkipLocked => string.Empty;

    protected abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Runs a write in a transaction and returns once it is committed (durable).</summary>
    protected abstract Task<object?> WriteAsync(Func<DbConnection, DbTransaction, Task<object?>> run, CancellationToken cancellationToken);

    /// <summary>Creates or migrates the schema.</summary>
    protected abstract Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>Serialises the writers of configuration versions (the engine's own lock, within the transaction).</summary>
    protected virtual Task LockConfigurationAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Tells the other nodes, when the transaction commits, that an aggregate changed.</summary>
    protected virtual Task NotifyChangeAsync(DbConnection connection, DbTransaction transaction, string aggregate, CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await MigrateAsync(cancellationToken);
        await ReleaseEarlierRunsAsync(cancellationToken);
    }

    public abstract ValueTask DisposeAsync();

    protected Task ExecuteWriteAsync(string sql, (string Name, object? Value)[] parameters, CancellationToken cancellationToken, string? changes = null) =>
        WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, sql, parameters, cancellationToken);
            if (changes is not null)
            {
                await RaiseVersionAsync(connection, transaction, changes, cancellationToken);
            }

            return null;
        }, cancellationToken);

    protected async Task<int> ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, (string Name, object? Value)[] parameters, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    protected async Task QueryAsync(string sql, (string Name, object? Value)[] parameters, Action<DbDataReader> row, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken);
        try
        {
            await using var command = Command(connection, null, sql, parameters);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                row(reader);
            }
        }
        finally
        {
            await ReturnAsync(connection);
        }
    }

    protected async Task<object?> ScalarAsync(string sql, (string Name, object? Value)[] parameters, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken);
        try
        {
            await using var command = Command(connection, null, sql, parameters);
            var value = await command.ExecuteScalarAsync(cancellationToken);
            return value is DBNull ? null : value;
        }
        finally
        {
            await ReturnAsync(connection);
        }
    }

    /// <summary>Ends a use of a connection from <see cref="OpenAsync"/>.</summary>
    protected virtual ValueTask ReturnAsync(DbConnection connection) => connection.DisposeAsync();

    /// <summary>The commands kept on a connection the engine holds open, if it does.</summary>
    protected virtual PreparedCommands? PreparedOn(DbConnection connection) => null;

    protected CommandLease Command(DbConnection connection, DbTransaction? transaction, string sql, (string Name, object? Value)[] parameters)
    {
        var kept = PreparedOn(connection)?.TryGet(connection, transaction, sql);
        var command = kept ?? connection.CreateCommand();
        if (kept is null)
        {
            command.Transaction = transaction;
            command.CommandText = sql;
        }

        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return new CommandLease(command, owned: kept is null);
    }

    protected static string Format(DateTimeOffset time) => WireTime.IsoMilliseconds(time);

    protected static string? Format(DateTimeOffset? time) => time is { } t ? Format(t) : null;

    protected static DateTimeOffset Parse(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    protected static string? TextOrNull(DbDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetString(column);

    protected static DateTimeOffset? TimeOrNull(DbDataReader reader, int column) => reader.IsDBNull(column) ? null : Parse(reader.GetString(column));

    protected static string WriteList(IReadOnlyList<string> list) => JsonSerializer.Serialize(list, StorageJsonContext.Default.IReadOnlyListString);

    protected static IReadOnlyList<string> ReadList(string json) => JsonSerializer.Deserialize(json, StorageJsonContext.Default.IReadOnlyListString) ?? [];

    protected static string WriteMap(IReadOnlyDictionary<string, string> map) =>
        JsonSerializer.Serialize(map.ToDictionary(p => p.Key, p => p.Value), StorageJsonContext.Default.DictionaryStringString);

    protected static Dictionary<string, string> ReadMap(string json) =>
        JsonSerializer.Deserialize(json, StorageJsonContext.Default.DictionaryStringString) ?? [];
}
