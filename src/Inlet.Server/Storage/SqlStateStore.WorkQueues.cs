using System.Data.Common;
using System.Numerics;

namespace Inlet.Storage;

/// <summary>The four durable work queues, and the claim, renew and release that all of them share.</summary>
internal abstract partial class SqlStateStore
{
    /// <summary>
    /// One queue: its table, the columns its records are read from, the kinds of item that are due (each with the
    /// order it is taken in, which an index of the table gives), and the status of items that wait for a time
    /// (<c>next_attempt_at</c>).
    /// </summary>
    private sealed record WorkTable<T>(string Table, string Columns, DueItems[] Due, string WaitingStatus, Func<DbDataReader, T> Read)
    {
        public WorkTable(string table, string columns, DueItems due, string waitingStatus, Func<DbDataReader, T> read)
            : this(table, columns, [due], waitingStatus, read)
        {
        }

        public string AnyDue => string.Join(" OR ", Due.Select(d => $"({d.Condition})"));
    }

    /// <summary>One kind of due item: its condition, and the order in which its items are claimed.</summary>
    private sealed record DueItems(string Condition, string Order);

    // Leases compare as text, like every time here; an item is free when it has no lease or its lease ran out.
    private const string Unleased = "(lease_until IS NULL OR lease_until < @now)";

    /// <summary>The condition of an update made by a node that does not hold the lease: nobody else may hold it.</summary>
    protected const string NotLeasedByAnother = "(lease_owner IS NULL OR lease_owner = @owner OR lease_until < @now)";

    private static readonly string[] s_leasedTables = ["messages", "invocations", "deliveries", "outbox"];

    private async Task<IReadOnlyList<T>> ClaimAsync<T>(WorkTable<T> queue, DateTimeOffset now, TimeSpan lease, int limit, CancellationToken cancellationToken)
    {
        (string, object?)[] parameters = [("@now", Format(now))];
        // A look first, outside the write path: an idle queue costs a read, not a transaction.
        if (limit <= 0 || await ScalarAsync($"SELECT 1 FROM {queue.Table} WHERE ({queue.AnyDue}) AND {Unleased} LIMIT 1;", parameters, cancellationToken) is null)
        {
            return [];
        }

        var result = await WriteAsync(async (connection, transaction) =>
        {
            // Each kind of due item is taken along its own index, in order, as far as the limit. One query over
            // all of them (an OR) made SQLite gather and sort every due row to find the first few: a claim cost as
            // much as the backlog was long.
            var ids = new List<string>();
            foreach (var due in queue.Due)
            {
                if (ids.Count >= limit)
                {
                    break;
                }

                await using var select = Command(connection, transaction,
                    $"SELECT id FROM {queue.Table} WHERE ({due.Condition}) AND {Unleased} ORDER BY {due.Order} LIMIT @limit {SkipLocked};",
                    [("@now", Format(now)), ("@limit", limit - ids.Count)]);
                await using var found = await select.ExecuteReaderAsync(cancellationToken);
                while (await found.ReadAsync(cancellationToken))
                {
                    ids.Add(found.GetString(0));
                }
            }

            if (ids.Count == 0)
            {
                return new List<T>();
            }

            var (names, values) = IdList(ids);
            await using var command = Command(connection, transaction,
                $"UPDATE {queue.Table} SET lease_owner = @owner, lease_until = @until WHERE id IN ({names}) RETURNING {queue.Columns};",
                [("@owner", Owner), ("@until", Format(now + lease)), .. values]);
            // RETURNING gives the rows in the table's order; they are handed out in the claim's. Every queue's
            // columns begin with its id.
            var byId = new Dictionary<string, T>(ids.Count, StringComparer.Ordinal);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                byId[reader.GetString(0)] = queue.Read(reader);
            }

            return ids.Where(byId.ContainsKey).Select(id => byId[id]).ToList();
        }, cancellationToken);
        return (List<T>)result!;
    }

    private Task RenewAsync(string table, IReadOnlyCollection<string> ids, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return Task.CompletedTask;
        }

        var (names, values) = IdList(ids.ToList());
        return ExecuteWriteAsync($"UPDATE {table} SET lease_until = @until WHERE lease_owner = @owner AND id IN ({names});", [("@owner", Owner), ("@until", Format(now + lease)), .. values], cancellationToken);
    }

    /// <summary>
    /// The parameters of an <c>id IN (…)</c> list, as many as the next power of two, the last id filling the rest (a
    /// value named twice in IN matches once). Each length is a statement of its own, compiled once per connection
    /// and kept among its 256: rounded this way a queue's claims and renewals are a handful of statements, where
    /// every count of ids from 1 to the workers' number was one.
    /// </summary>
    internal static (string Names, (string, object?)[] Values) IdList(IReadOnlyList<string> ids)
    {
        var count = (int)BitOperations.RoundUpToPowerOf2((uint)ids.Count);
        var values = new (string, object?)[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = ("@id" + i, ids[Math.Min(i, ids.Count - 1)]);
        }

        return (string.Join(", ", values.Select(v => v.Item1)), values);
    }

    private Task ReleaseAsync(string table, string id, CancellationToken cancellationToken) =>
        ExecuteWriteAsync($"UPDATE {table} SET lease_owner = NULL, lease_until = NULL WHERE id = @id AND lease_owner = @owner;", [("@id", id), ("@owner", Owner)], cancellationToken);

    private async Task<DateTimeOffset?> NextDueAsync(string sql, CancellationToken cancellationToken) =>
        await ScalarAsync(sql, [], cancellationToken) is string text ? Parse(text) : null;

    /// <summary>A restarted node takes its work back at once, rather than after its old leases run out.</summary>
    private Task ReleaseEarlierRunsAsync(CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            var prefix = NodeId + "/";
            foreach (var table in s_leasedTables)
            {
                await ExecuteAsync(connection, transaction,
                    $"UPDATE {table} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL AND substr(lease_owner, 1, @length) = @prefix AND lease_owner <> @owner;",
                    [("@length", prefix.Length), ("@prefix", prefix), ("@owner", Owner)], cancellationToken);
            }

            return null;
        }, cancellationToken);

    public IWorkQueue<MessageRecord> MessageQueue => field ??= new Queue<MessageRecord>(this, s_messages);

    public IWorkQueue<AsyncInvocationRecord> InvocationQueue => field ??= new Queue<AsyncInvocationRecord>(this, s_invocations);

    public IWorkQueue<DeliveryRecord> DeliveryQueue => field ??= new Queue<DeliveryRecord>(this, s_deliveries);

    public IWorkQueue<OutboxRecord> OutboxQueue => field ??= new Queue<OutboxRecord>(this, s_outbox);

    /// <summary>One of the four queues, as the work loops see it.</summary>
    private sealed class Queue<T>(SqlStateStore store, WorkTable<T> table) : IWorkQueue<T>
    {
        public Task<IReadOnlyList<T>> ClaimDueAsync(DateTimeOffset now, TimeSpan lease, int limit, CancellationToken cancellationToken) =>
            store.ClaimAsync(table, now, lease, limit, cancellationToken);

        public Task RenewAsync(IReadOnlyCollection<string> ids, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken) =>
            store.RenewAsync(table.Table, ids, now, lease, cancellationToken);

        public Task ReleaseAsync(string id, CancellationToken cancellationToken) => store.ReleaseAsync(table.Table, id, cancellationToken);

        public Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken) =>
            store.NextDueAsync($"SELECT MIN(next_attempt_at) FROM {table.Table} WHERE status = '{table.WaitingStatus}';", cancellationToken);
    }
}
