namespace Inlet.Storage;

/// <summary>The file bucket store's journal (<see cref="JournaledBucketStore"/>), in the table <c>object_journal</c>.</summary>
internal sealed partial class SqliteStateStore
{
    public Task AppendAsync(string container, string key, byte[] data, CancellationToken cancellationToken) =>
        ExecuteWriteAsync("INSERT INTO object_journal (container, key, data) VALUES (@container, @key, @data);",
            [("@container", container), ("@key", key), ("@data", data)], cancellationToken);

    public async Task<IReadOnlyList<ObjectJournalEntry>> ReadAllAsync(CancellationToken cancellationToken)
    {
        var entries = new List<ObjectJournalEntry>();
        await QueryAsync("SELECT id, container, key, data FROM object_journal ORDER BY id;", [],
            reader => entries.Add(new ObjectJournalEntry(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), (byte[])reader.GetValue(3))),
            cancellationToken);
        return entries;
    }

    public async Task<long?> LastIdAsync(CancellationToken cancellationToken) =>
        await ScalarAsync("SELECT max(id) FROM object_journal;", [], cancellationToken) is long id ? id : null;

    public Task TruncateAsync(long lastId, CancellationToken cancellationToken) =>
        ExecuteWriteAsync("DELETE FROM object_journal WHERE id <= @id;", [("@id", lastId)], cancellationToken);
}
