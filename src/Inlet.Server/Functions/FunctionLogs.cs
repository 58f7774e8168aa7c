using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;

namespace Inlet.Functions;

/// <summary>One line of a function's log, with the invocation it belongs to.</summary>
internal sealed record LogLine(DateTimeOffset At, string? RequestId, string Text);

/// <summary>
/// Every function's output, as Lambda keeps it in CloudWatch Logs: the runtime's stdout and stderr, framed by
/// <c>START</c>, <c>END</c> and <c>REPORT</c> lines. The newest lines are kept in memory for tails and followers;
/// all lines are appended to <c>logs/&lt;function&gt;.log</c> in the data folder.
/// </summary>
internal sealed class FunctionLogs(string directory)
{
    private const int KeptLines = 5000;

    private readonly ConcurrentDictionary<string, Log> _logs = new(StringComparer.Ordinal);

    public void Append(string function, string? requestId, string text)
    {
        var log = _logs.GetOrAdd(function, name => new Log(Path.Combine(directory, name + ".log")));
        log.Append(new LogLine(DateTimeOffset.UtcNow, requestId, text));
    }

    /// <summary>The newest lines, oldest first.</summary>
    public IReadOnlyList<LogLine> Tail(string function, int count) =>
        _logs.TryGetValue(function, out var log) ? log.Tail(count) : [];

    /// <summary>The lines of one invocation, within its last 4 KB (what <c>X-Amz-Log-Type: Tail</c> returns).</summary>
    public string InvocationTail(string function, string requestId)
    {
        var lines = _logs.TryGetValue(function, out var log) ? log.Tail(KeptLines).Where(l => l.RequestId == requestId).Select(l => l.Text) : [];
        var text = string.Join('\n', lines) + "\n";
        var bytes = Encoding.UTF8.GetBytes(text);
        return bytes.Length <= 4096 ? text : Encoding.UTF8.GetString(bytes, bytes.Length - 4096, 4096);
    }

    /// <summary>Lines as they are written, until cancelled.</summary>
    public ChannelReader<LogLine> Follow(string function, CancellationToken cancellationToken)
    {
        var log = _logs.GetOrAdd(function, name => new Log(Path.Combine(directory, name + ".log")));
        return log.Subscribe(cancellationToken);
    }

    private sealed class Log(string path)
    {
        private readonly Queue<LogLine> _lines = new();
        private readonly List<Channel<LogLine>> _followers = [];
        private readonly object _gate = new();

        public void Append(LogLine line)
        {
            lock (_gate)
            {
                _lines.Enqueue(line);
                while (_lines.Count > KeptLines)
                {
                    _lines.Dequeue();
                }

                foreach (var follower in _followers)
                {
                    follower.Writer.TryWrite(line);
                }

                try
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    File.AppendAllText(path, line.Text + "\n");
                }
                catch (IOException)
                {
                    // The log file is a convenience; the in-memory log and followers still have the line.
                }
            }
        }

        public IReadOnlyList<LogLine> Tail(int count)
        {
            lock (_gate)
            {
                return _lines.Skip(Math.Max(0, _lines.Count - count)).ToList();
            }
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
    }
}
