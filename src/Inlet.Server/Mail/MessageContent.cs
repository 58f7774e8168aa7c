using System.Buffers;
using System.Globalization;
using System.Text;

namespace Inlet.Mail;

/// <summary>A header added to the message in flight: by SES before the original headers, or by an AddHeader action after them.</summary>
internal sealed record AddedHeader(string Name, string Value);

/// <summary>
/// The message as actions see it, without copying it: the headers SES prepends (<c>Return-Path</c>, <c>Received</c>),
/// the original header section from the spool, the headers AddHeader actions appended (at the end of the header
/// block), then the original body. Read as one stream whenever an action needs the bytes.
/// </summary>
internal sealed class MessageContent
{
    private readonly Func<CancellationToken, Task<Stream?>> _openSpool;
    private readonly byte[] _prefix;
    private readonly byte[] _appended;

    private MessageContent(Func<CancellationToken, Task<Stream?>> openSpool, long spoolLength, long headerEnd, byte[] prefix, byte[] appended)
    {
        _openSpool = openSpool;
        SpoolLength = spoolLength;
        HeaderEnd = headerEnd;
        _prefix = prefix;
        _appended = appended;
    }

    /// <summary>Length of the message as received.</summary>
    public long SpoolLength { get; }

    /// <summary>Where the original header section ends (before its empty line), in the received message.</summary>
    public long HeaderEnd { get; }

    /// <summary>Length of the message as actions see it.</summary>
    public long Length => _prefix.Length + SpoolLength + _appended.Length;

    /// <summary>
    /// Reads the received message's header section to find where it ends. <paramref name="openSpool"/> opens the
    /// received message each time the content is read.
    /// </summary>
    public static async Task<MessageContent> LoadAsync(Func<CancellationToken, Task<Stream?>> openSpool, IReadOnlyList<AddedHeader> prepended, IReadOnlyList<AddedHeader> appended, CancellationToken cancellationToken)
    {
        await using var stream = await openSpool(cancellationToken) ?? throw new FileNotFoundException("The received message is missing from the spool.");
        var length = stream.Length;
        var headerEnd = await FindHeaderEndAsync(stream, cancellationToken);
        return new MessageContent(openSpool, length, headerEnd, Format(prepended), Format(appended));
    }

    /// <summary>A copy that sees one more appended header.</summary>
    public MessageContent WithAppended(IReadOnlyList<AddedHeader> appended) =>
        new(_openSpool, SpoolLength, HeaderEnd, _prefix, Format(appended));

    /// <summary>The whole header section as actions see it (prepended, original, appended), without the empty line.</summary>
    public async Task<byte[]> ReadHeaderSectionAsync(CancellationToken cancellationToken)
    {
        await using var stream = await _openSpool(cancellationToken) ?? throw new FileNotFoundException("The received message is missing from the spool.");
        var original = new byte[HeaderEnd];
        await stream.ReadExactlyAsync(original, cancellationToken);
        var section = new byte[_prefix.Length + original.Length + _appended.Length + (NeedsLineEnd(original) ? 2 : 0)];
        _prefix.CopyTo(section, 0);
        original.CopyTo(section, _prefix.Length);
        var offset = _prefix.Length + original.Length;
        if (NeedsLineEnd(original))
        {
            section[offset++] = (byte)'\r';
            section[offset++] = (byte)'\n';
        }

        _appended.CopyTo(section, offset);
        return section;
    }

    /// <summary>The message as actions see it, as a stream.</summary>
    public async Task<Stream> OpenReadAsync(CancellationToken cancellationToken)
    {
        var spool = await _openSpool(cancellationToken) ?? throw new FileNotFoundException("The received message is missing from the spool.");
        return new ComposedStream(_prefix, spool, HeaderEnd, _appended);
    }

    public async Task<byte[]> ReadAllAsync(CancellationToken cancellationToken)
    {
        await using var stream = await OpenReadAsync(cancellationToken);
        using var buffer = new MemoryStream((int)Math.Min(Length, int.MaxValue));
        await stream.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }

    private static bool NeedsLineEnd(byte[] original) =>
        original.Length > 0 && original[^1] != (byte)'\n';

    private static byte[] Format(IReadOnlyList<AddedHeader> headers)
    {
        var text = new StringBuilder();
        foreach (var header in headers)
        {
            text.Append(header.Name).Append(": ").Append(header.Value).Append("\r\n");
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>
    /// The offset of the empty line that ends the header section: just after the last header's CRLF. A message
    /// with no empty line is all header.
    /// </summary>
    private static async Task<long> FindHeaderEndAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            long position = 0;
            var atLineStart = true;
            var pendingCr = false;
            while (true)
            {
                var read = await stream.ReadAsync(buffer, cancellationToken);
                if (read == 0)
                {
                    return position;
                }

                for (var i = 0; i < read; i++)
                {
                    var b = buffer[i];
                    if (atLineStart && b == (byte)'\r')
                    {
                        pendingCr = true;
                        atLineStart = false;
                        continue;
                    }

                    if (pendingCr && b == (byte)'\n')
                    {
                        return position + i - 1;
                    }

                    pendingCr = false;
                    atLineStart = b == (byte)'\n';
                }

                position += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>SES's Received header, folded as SES folds it.</summary>
    public static AddedHeader ReceivedHeader(string helo, string? ip, string hostname, string messageId, string firstRecipient, DateTimeOffset receivedAt)
    {
        var literal = ip is null ? "unknown" : $"unknown [{ip}]";
        var date = receivedAt.UtcDateTime.ToString("ddd, dd MMM yyyy HH:mm:ss", CultureInfo.InvariantCulture);
        return new AddedHeader("Received", $"from {helo} ({literal})\r\n by {hostname} with SMTP id {messageId}\r\n for {firstRecipient};\r\n {date} +0000 (UTC)");
    }

    private sealed class ComposedStream(byte[] prefix, Stream spool, long headerEnd, byte[] appended) : Stream
    {
        private long _position;

        private long Total => prefix.Length + spool.Length + appended.Length;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => Total;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            // Sections in order: prefix, spool[0..headerEnd), appended, spool[headerEnd..].
            var p = _position;
            if (p < prefix.Length)
            {
                return Take(prefix.AsSpan((int)p), buffer);
            }

            p -= prefix.Length;
            if (p < headerEnd)
            {
                var limit = (int)Math.Min(buffer.Length, headerEnd - p);
                spool.Position = p;
                var read = spool.Read(buffer[..limit]);
                _position += read;
                return read;
            }

            p -= headerEnd;
            if (p < appended.Length)
            {
                return Take(appended.AsSpan((int)p), buffer);
            }

            p -= appended.Length;
            spool.Position = headerEnd + p;
            var rest = spool.Read(buffer);
            _position += rest;
            return rest;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var p = _position - prefix.Length;
            if (p >= 0 && p < headerEnd)
            {
                var limit = (int)Math.Min(buffer.Length, headerEnd - p);
                spool.Position = p;
                var read = await spool.ReadAsync(buffer[..limit], cancellationToken);
                _position += read;
                return read;
            }

            if (p >= headerEnd + appended.Length)
            {
                spool.Position = headerEnd + (p - headerEnd - appended.Length);
                var read = await spool.ReadAsync(buffer, cancellationToken);
                _position += read;
                return read;
            }

            return Read(buffer.Span);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Take(ReadOnlySpan<byte> source, Span<byte> destination)
        {
            var n = Math.Min(source.Length, destination.Length);
            source[..n].CopyTo(destination);
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                spool.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await spool.DisposeAsync();
            await base.DisposeAsync();
        }
    }
}
