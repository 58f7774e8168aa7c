namespace Inlet.Storage;

/// <summary>Where the state lives and how this node takes part in sharing it.</summary>
internal sealed record StateOptions
{
    /// <summary><c>sqlite</c> (embedded, in the data folder) or <c>postgres</c>.</summary>
    public string Type { get; init; } = Sqlite;

    /// <summary>PostgreSQL's connection string (Npgsql's keywords), for <c>Type: postgres</c>.</summary>
    public string? ConnectionString { get; init; }

    /// <summary>
    /// This node's name in the leases it holds; unique per node. A node restarted under the same id takes its
    /// unfinished work back at once. Default: the host name and the data folder.
    /// </summary>
    public string? NodeId { get; init; }

    /// <summary>
    /// How long a claimed work item stays this node's without a renewal (renewed every third of it): after a node
    /// dies, its work goes to another node once its leases run out.
    /// </summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How often the small bucket objects written since the last time, whose content waits in the embedded
    /// database's journal, are put on disk together (<see cref="JournaledBucketStore"/>).
    /// </summary>
    public TimeSpan BucketFlushInterval { get; init; } = TimeSpan.FromSeconds(1);

    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";
}

/// <summary>Where received messages are spooled: files in the data folder, or one bucket that every node shares.</summary>
internal sealed record SpoolOptions
{
    /// <summary><c>files</c> or <c>s3</c> (on the service of the BucketStore settings).</summary>
    public string Type { get; init; } = Files;

    /// <summary>The spool's bucket, for <c>Type: s3</c>.</summary>
    public string? Bucket { get; init; }

    public const string Files = "files";
    public const string S3 = "s3";
}
