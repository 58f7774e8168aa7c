using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Inlet.Storage;

namespace Inlet.Functions;

/// <summary>
/// Every function's output, as Lambda keeps it in CloudWatch Logs: the runtime's stdout and stderr, framed by
/// <c>START</c>, <c>END</c> and <c>REPORT</c> lines, each line in the log stream of the environment that wrote it.
/// All lines are appended to <c>logs/&lt;function&gt;.log</c> in the data folder as
/// <c>&lt;UTC time&gt; &lt;stream&gt; &lt;text&gt;</c>, and kept there across restarts; the newest lines are also kept in
/// memory for tails and followers. Reads that reach further back than memory read the file.
/// </summary>
internal sealed class FunctionLogs(string directory) : IDisposable
{
    private const int KeptLines = 5000;

    /// <summary>Invocations whose lines are kept for their tails (<see cref="InvocationTail"/>).</summary>
    private const int KeptRequests = 256;

    /// <summary>What <c>X-Amz-Log-Type: Tail</c> returns at most (Lambda's 4 KB).</summary>
    private const int TailBytes = 4096;

    private readonly ConcurrentDictionary<string, Log> _logs = new(StringComparer.Ordinal);

    /// <summary>Appends lines to a stream of the function's log; several given at once are written to its file together.</summary>
    public void Append(string function, string stream, string? requestId, params ReadOnlySpan<string> texts) => Get(function).Append(stream, requestId, texts, holdBack: false);

    /// <summary>
    /// Appends a line that reaches the file with the next lines appended to the function's log, in their write: an
    /// invocation's <c>START</c> and, for a function that prints nothing, its <c>END</c> and <c>REPORT</c> cost one
    /// write where they cost two. Tails, followers and reads see it at once; only the file waits for it, so a crash
    /// before the next line can leave an invocation's <c>START</c> out of the file (the message's trace, in the
    /// state store, is not affected).
    /// </summary>
    public void AppendWithNext(string function, string stream, string? requestId, string text) => Get(function).Append(stream, requestId, [text], holdBack: true);

    /// <summary>The newest lines, oldest first.</summary>
    public IReadOnlyList<LogLine> Tail(string function, int count) => Get(function).Tail(count);

    /// <summary>
    /// The lines of one invocation (its environment's init output, when the invocation started it, then
    /// <c>START</c> to <c>REPORT</c>), within their last 4 KB: what <c>X-Amz-Log-Type: Tail</c> returns.
    /// </summary>
    public string InvocationTail(string function, string requestId)
    {
        var text = string.Join('\n', Get(function).LinesOf(requestId)) + "\n";
        var bytes = Encoding.UTF8.GetBytes(text);
        return bytes.Length <= TailBytes ? text : Encoding.UTF8.GetString(bytes, bytes.Length - TailBytes, TailBytes);
    }

    /// <summary>Lines as they are written, until cancelled.</summary>
    public ChannelReader<LogLine> Follow(string function, CancellationToken cancellationToken) => Get(function).Subscribe(cancellationToken);

    /// <summary>The functions that have a log: those written to since start, and those with a file in the data folder.</summary>
    public IReadOnlyCollection<string> Functions
    {
        get
        {
            var names = new HashSet<string>(_logs.Keys, StringComparer.Ordinal);
            if (Directory.Exists(directory))
            {
                foreach (var file in Directory.EnumerateFiles(directory, "*.log"))
                {
                    names.Add(Path.GetFileNameWithoutExtension(file));
                }
            }

            return names;
        }
    }

    public bool Exists(string function) => _logs.ContainsKey(function) || File.Exists(PathOf(function));

    public IReadOnlyList<LogStreamInfo> Streams(string function) => Get(function).Streams();

    /// <summary>Bytes of the function's log file.</summary>
    public long StoredBytes(string function) => Get(function).Length;

    public LogPage Read(string function, LogQuery query) => Get(function).Read(query);

    public void Dispose()
    {
        foreach (var log in _logs.Values)
        {
            log.Dispose();
        }
    }

    private string PathOf(string function) => Path.Combine(directory, function + ".log");

    private Log Get(string function) => _logs.GetOrAdd(function, name => new Log(PathOf(name)));

    private sealed class Log(string path) : IDisposable
    {
        private const string TimeFormat = WireTime.IsoMillisecondsFormat;

        private readonly Queue<LogLine> _lines = new();

        // The lines of the latest invocations by request id, for their tails: found at once, where a scan of the kept
        // lines cost every invocation a copy of 5,000 of them.
        private readonly Dictionary<string, RequestLines> _requests = new(StringComparer.Ordinal);
        private readonly Queue<string> _requestOrder = new();
        private readonly Dictionary<string, LogStreamInfo> _streams = new(StringComparer.Ordinal);
        private readonly List<Channel<LogLine>> _followers = [];
        private readonly object _gate = new();
        private bool _loaded;
        private long _length;
        private FileStream? _file;
        private DateTimeOffset _lastAt;

        /// <summary>Lines appended with <see cref="AppendWithNext"/> and not in the file yet; counted in <see cref="_length"/>.</summary>
        private ArrayBufferWriter<byte>? _heldBack;

        public long Length
        {
            get
            {
                lock (_gate)
                {
                    Load();
                    return _length;
                }
            }
        }

        public void Append(string stream, string? requestId, ReadOnlySpan<string> texts, bool holdBack)
        {
            lock (_gate)
            {
                Load();
                // Taken under the lock so that the file is in time order, which reads by time rely on.
                var at = DateTimeOffset.UtcNow;
                if (at < _lastAt)
                {
                    at = _lastAt;
                }

                _lastAt = at;
                var prefix = $"{at.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture)} {stream} ";
                var bytes = _heldBack ?? new ArrayBufferWriter<byte>();
                foreach (var text in texts)
                {
                    var line = new LogLine(at, requestId, stream, text, _length);
                    _length += Encoding.UTF8.GetBytes($"{prefix}{text}\n", bytes);
                    Keep(line);
                    foreach (var follower in _followers)
                    {
                        follower.Writer.TryWrite(line);
                    }
                }

                if (holdBack)
                {
                    _heldBack = bytes;
                }
                else
                {
                    WriteFile(bytes);
                }
            }
        }

        private void WriteHeldBack()
        {
            if (_heldBack is { } bytes)
            {
                WriteFile(bytes);
            }
        }

        private void WriteFile(ArrayBufferWriter<byte> bytes)
        {
            _heldBack = null;
            try
            {
                if (_file is null)
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    _file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
                }

                _file.Write(bytes.WrittenSpan);
                _file.Flush();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The memory log and followers still have the line; the file is tried again with the next one.
                _file?.Dispose();
                _file = null;
            }
        }

        public IReadOnlyList<LogLine> Tail(int count)
        {
            lock (_gate)
            {
                Load();
                return _lines.Skip(Math.Max(0, _lines.Count - count)).ToList();
            }
        }

        /// <summary>The kept lines of one recent invocation, in order (at least their last 4 KB).</summary>
        public IReadOnlyList<string> LinesOf(string requestId)
        {
            lock (_gate)
            {
                Load();
                return _requests.TryGetValue(requestId, out var request) ? [.. request.Lines] : [];
            }
        }

        public IReadOnlyList<LogStreamInfo> Streams()
        {
            lock (_gate)
            {
                Load();
                return _streams.Values.ToList();
            }
        }

        public LogPage Read(LogQuery query)
        {
            LogLine[] memory;
            long end;
            bool fromMemory;
            lock (_gate)
            {
                Load();
                // A read of the file must find every line it counts.
                WriteHeldBack();
                memory = [.. _lines];
                end = _length;
                fromMemory = memory.Length > 0 && CoveredByMemory(query, memory[0]);
            }

            var source = fromMemory ? memory.Where(l => l.Position >= query.From) : ReadFile(query.From, end);
            var matches = source
                .TakeWhile(l => l.Position < query.Before && (query.EndTime is not { } endTime || l.Timestamp < endTime))
                .Where(l => Matches(query, l));
            if (query.Latest)
            {
                var newest = new Queue<LogLine>(Math.Min(query.Limit, 1024));
                foreach (var line in matches)
                {
                    newest.Enqueue(line);
                    if (newest.Count > query.Limit)
                    {
                        newest.Dequeue();
                    }
                }

                return new LogPage([.. newest], null);
            }

            var page = new List<LogLine>();
            foreach (var line in matches)
            {
                if (page.Count == query.Limit)
                {
                    return new LogPage(page, line.Position);
                }

                page.Add(line);
            }

            return new LogPage(page, null);
        }

        /// <summary>Memory holds every line from its oldest on; a read that starts there needs no file.</summary>
        private bool CoveredByMemory(LogQuery query, LogLine oldest)
        {
            if (query.From >= oldest.Position)
            {
                return true;
            }

            // Lines before the oldest one in memory are no later than it, so a start strictly after it is safe.
            if (query.StartTime is { } start && start > oldest.Timestamp)
            {
                return true;
            }

            return query.Streams is { Count: > 0 } streams
                && streams.All(s => !_streams.TryGetValue(s, out var info) || info.FirstPosition >= oldest.Position);
        }

        private static bool Matches(LogQuery query, LogLine line) =>
            (query.Streams is null || query.Streams.Contains(line.Stream))
            && (query.StreamPrefix is null || line.Stream.StartsWith(query.StreamPrefix, StringComparison.Ordinal))
            && (query.StartTime is not { } start || line.Timestamp >= start)
            && (query.Match is null || query.Match(line.Text));

        private void Keep(LogLine line)
        {
            _lines.Enqueue(line);
            while (_lines.Count > KeptLines)
            {
                _lines.Dequeue();
            }

            if (line.RequestId is { } requestId)
            {
                if (!_requests.TryGetValue(requestId, out var request))
                {
                    _requests[requestId] = request = new RequestLines();
                    _requestOrder.Enqueue(requestId);
                    while (_requestOrder.Count > KeptRequests)
                    {
                        _requests.Remove(_requestOrder.Dequeue());
                    }
                }

                request.Add(line.Text);
            }

            _streams[line.Stream] = _streams.TryGetValue(line.Stream, out var info)
                ? info with { Last = line.At }
                : new LogStreamInfo(line.Stream, line.At, line.At, line.Position);
        }

        /// <summary>On first use after a start: the streams, the newest lines and the length, from the file.</summary>
        private void Load()
        {
            if (_loaded)
            {
                return;
            }

            _loaded = true;
            if (!File.Exists(path))
            {
                return;
            }

            try
            {
                var length = new FileInfo(path).Length;
                foreach (var line in ReadFile(0, length))
                {
                    Keep(line);
                    _lastAt = line.At;
                }

                _length = length;
                if (length > 0 && !EndsWithNewline(length))
                {
                    // A line cut short by a crash: end it, so that the next line starts on its own.
                    File.AppendAllText(path, "\n");
                    _length++;
                }
            }
            catch (IOException)
            {
                // Unreadable: the log starts afresh in memory, and the file is appended to when it can be.
            }
        }

        private bool EndsWithNewline(long length)
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            file.Position = length - 1;
            return file.ReadByte() == '\n';
        }

        /// <summary>The file's lines from <paramref name="from"/> up to <paramref name="end"/>, with their positions.</summary>
        private IEnumerable<LogLine> ReadFile(long from, long end)
        {
            FileStream file;
            try
            {
                file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                yield break;
            }

            using (file)
            {
                file.Position = Math.Min(from, end);
                var position = file.Position;
                var buffer = new byte[1 << 16];
                var pending = new MemoryStream();
                while (position + pending.Length < end)
                {
                    var read = file.Read(buffer, 0, (int)Math.Min(buffer.Length, end - position - pending.Length));
                    if (read == 0)
                    {
                        break;
                    }

                    var start = 0;
                    for (var i = 0; i < read; i++)
                    {
                        if (buffer[i] != '\n')
                        {
                            continue;
                        }

                        pending.Write(buffer, start, i - start);
                        var lineLength = pending.Length + 1;
                        if (Parse(pending.GetBuffer().AsSpan(0, (int)pending.Length), position) is { } line)
                        {
                            yield return line;
                        }

                        position += lineLength;
                        pending.SetLength(0);
                        start = i + 1;
                    }

                    pending.Write(buffer, start, read - start);
                }
            }
        }

        /// <summary>One file line; lines in another shape (the plain lines of earlier versions) are skipped.</summary>
        private static LogLine? Parse(ReadOnlySpan<byte> bytes, long position)
        {
            var text = Encoding.UTF8.GetString(bytes);
            var first = text.IndexOf(' ');
            var second = first < 0 ? -1 : text.IndexOf(' ', first + 1);
            if (second < 0 || !DateTimeOffset.TryParseExact(text.AsSpan(0, first), TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            {
                return null;
            }

            return new LogLine(at, null, text[(first + 1)..second], text[(second + 1)..], position);
        }

        public ChannelReader<LogLine> Subscribe(CancellationToken cancellationToken)
        {
            var channel = Channel.CreateBounded<LogLine>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest });
            lock (_gate)
            {
                _followers.Add(channel);
            }

            cancellationToken.Register(() =>
            {
                lock (_gate)
                {
                    _followers.Remove(channel);
                }

                channel.Writer.TryComplete();
            });
            return channel.Reader;
        }

        public void Dispose()
        {
            lock (_gate)
            {
                WriteHeldBack();
                _file?.Dispose();
                _file = null;
            }
        }
    }

    /// <summary>One invocation's lines, trimmed from the front once more than the 4 KB a tail shows is kept.</summary>
    private sealed class RequestLines
    {
        private int _bytes;

        public Queue<string> Lines { get; } = new();

        public void Add(string text)
        {
            Lines.Enqueue(text);
            _bytes += Encoding.UTF8.GetByteCount(text) + 1;
            while (Lines.Count > 1 && _bytes - (Encoding.UTF8.GetByteCount(Lines.Peek()) + 1) >= TailBytes)
            {
                _bytes -= Encoding.UTF8.GetByteCount(Lines.Dequeue()) + 1;
            }
        }
    }
}
