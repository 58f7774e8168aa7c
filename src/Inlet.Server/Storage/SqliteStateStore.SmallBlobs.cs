namespace Inlet.Storage;

/// <summary>The embedded spool's small messages (<see cref="DatabaseSpool"/>), in the table <c>spool_blobs</c>.</summary>
internal sealed partial class SqliteStateStore
{
    private const string PutBlobSql =
        "INSERT INTO spool_blobs (container, key, data, created_at) VALUES (@container, @key, @data, @created) ON CONFLICT(container, key) DO UPDATE SET data = excluded.data, created_at = excluded.created_at;";

    public Task PutBlobAsync(string container, string key, byte[] data, CancellationToken cancellationToken) =>
        ExecuteWriteAsync(PutBlobSql, BlobParameters(container, key, data), cancellationToken);

    public Task PutBlobWithMessageAsync(string container, string key, byte[] data, MessageRecord message, TimeSpan? lease, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, PutBlobSql, BlobParameters(container, key, data), cancellationToken);
            await InsertMessageAsync(connection, transaction, message, lease, cancellationToken);
            return null;
        }, cancellationToken);

    private static (string, object?)[] BlobParameters(string container, string key, byte[] data) =>
        [("@container", container), ("@key", key), ("@data", data), ("@created", Format(DateTimeOffset.UtcNow))];

    public async Task<(byte[] Data, DateTimeOffset CreatedAt)?> GetBlobAsync(string container, string key, CancellationToken cancellationToken)
    {
        (byte[], DateTimeOffset)? blob = null;
        await QueryAsync("SELECT data, created_at FROM spool_blobs WHERE container = @container AND key = @key;", [("@container", container), ("@key", key)],
            reader => blob = ((byte[])reader.GetValue(0), Parse(reader.GetString(1))), cancellationToken);
        return blob;
    }

    public Task DeleteBlobAsync(string container, string key, CancellationToken cancellationToken) =>
        ExecuteWriteAsync("DELETE FROM spool_blobs WHERE container = @container AND key = @key;", [("@container", container), ("@key", key)], cancellationToken);

    public async Task<IReadOnlyList<BlobInfo>> ListBlobsAsync(string container, CancellationToken cancellationToken)
    {
        var list = new List<BlobInfo>();
        await QueryAsync("SELECT key, length(data), created_at FROM spool_blobs WHERE container = @container ORDER BY key;", [("@container", container)],
            reader => list.Add(new BlobInfo(reader.GetString(0), reader.GetInt64(1), Parse(reader.GetString(2)).UtcDateTime)), cancellationToken);
        return list;
    }
}
