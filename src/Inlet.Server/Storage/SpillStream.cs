namespace Inlet.Storage;

/// <summary>
/// A write-only stream that keeps what is written in memory up to a limit, and past it moves what it holds into a
/// stream it opens then (a file) and writes on there: a small object costs no file, a large one never sits whole in
/// memory.
/// </summary>
internal sealed class SpillStream(int limit, Func<CancellationToken, Task<Stream>> spill) : Stream
{
    private readonly MemoryStream _buffer = new();

    /// <summary>Where the data went once it outgrew the limit; null while it is all in memory.</summary>
    public Stream? Spilled { get; private set; }

    /// <summary>The bytes written, while they are all in memory.</summary>
    public MemoryStream Buffer => _buffer;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (Spilled is null && _buffer.Length + buffer.Length > limit)
        {
            Spilled = await spill(cancellationToken);
            _buffer.Position = 0;
            await _buffer.CopyToAsync(Spilled, cancellationToken);
            _buffer.SetLength(0);
        }

        if (Spilled is not null)
        {
            await Spilled.WriteAsync(buffer, cancellationToken);
        }
        else
        {
            _buffer.Write(buffer.Span);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Spilled?.FlushAsync(cancellationToken) ?? Task.CompletedTask;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
