namespace Inlet.Storage;

/// <summary>
/// A blob writer that holds an object in memory up to a limit and, past it, hands what it holds and the rest to a
/// file of a <see cref="FileBlobStore"/>: its owner commits a small object its own way, a large one as that file.
/// </summary>
internal abstract class SpillingBlobWriter : IBlobWriter
{
    private readonly SpillStream _stream;

    protected SpillingBlobWriter(FileBlobStore files, string container, string key, int limit)
    {
        (Container, Key) = (container, key);
        _stream = new SpillStream(limit, async ct =>
        {
            Spilled = await files.CreateAsync(container, key, ct);
            return Spilled.Stream;
        });
    }

    public string Container { get; }

    public string Key { get; }

    public Stream Stream => _stream;

    /// <summary>Whether everything written is still in memory (no file was needed).</summary>
    public bool InMemory => Spilled is null;

    private byte[]? _data;

    /// <summary>
    /// What was written, while it is all in memory: copied out once and shared by every later reader (the run, then
    /// the commit), until more is written — the stream only appends, so an unchanged length means unchanged bytes.
    /// </summary>
    public byte[] Data => _data is { } data && data.Length == _stream.Buffer.Length ? data : _data = _stream.Buffer.ToArray();

    /// <summary>The file that took the object past the limit; null while it is all in memory.</summary>
    protected IBlobWriter? Spilled { get; private set; }

    public abstract Task CommitAsync(CancellationToken cancellationToken);

    /// <inheritdoc cref="IBlobWriter.StartCommitAsync"/>
    public virtual async Task<Task> StartCommitAsync(CancellationToken cancellationToken)
    {
        await CommitAsync(cancellationToken);
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => Spilled?.DisposeAsync() ?? ValueTask.CompletedTask;
}
