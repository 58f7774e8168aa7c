using System.Data.Common;

namespace Inlet.Storage;

/// <summary>
/// The commands of one long-lived connection, kept by their SQL text so that each statement is compiled once.
/// Microsoft.Data.Sqlite keeps a command's compiled statements until its text changes or it is disposed; a new command
/// compiles them again, and under SMTP load SQLite's parser was the largest part of the state store's CPU. Texts
/// beyond <see cref="Capacity"/> (queries built from a filter) get a command of their own, as before.
/// </summary>
internal sealed class PreparedCommands : IDisposable
{
    public const int Capacity = 256;

    private readonly Dictionary<string, DbCommand> _commands = new(StringComparer.Ordinal);

    /// <summary>The connection's command for the text, with the parameters given; not to be disposed by the caller.</summary>
    public DbCommand? TryGet(DbConnection connection, DbTransaction? transaction, string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            if (_commands.Count >= Capacity)
            {
                return null;
            }

            command = connection.CreateCommand();
            command.CommandText = sql;
            _commands.Add(sql, command);
        }

        command.Transaction = transaction;
        command.Parameters.Clear();
        return command;
    }

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
    }
}

/// <summary>A command for one execution: a kept one (<see cref="PreparedCommands"/>) is left open when it ends.</summary>
internal readonly struct CommandLease(DbCommand command, bool owned) : IAsyncDisposable
{
    public DbCommand Command { get; } = command;

    public Task<int> ExecuteNonQueryAsync(CancellationToken cancellationToken) => Command.ExecuteNonQueryAsync(cancellationToken);

    public Task<object?> ExecuteScalarAsync(CancellationToken cancellationToken) => Command.ExecuteScalarAsync(cancellationToken);

    public Task<DbDataReader> ExecuteReaderAsync(CancellationToken cancellationToken) => Command.ExecuteReaderAsync(cancellationToken);

    public ValueTask DisposeAsync() => owned ? Command.DisposeAsync() : ValueTask.CompletedTask;
}
