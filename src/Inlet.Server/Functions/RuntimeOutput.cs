using System.Diagnostics;

namespace Inlet.Functions;

/// <summary>
/// The stdout and stderr of a runtime process, line by line, and the barrier that keeps an invocation's output
/// ahead of its <c>END</c> line.
/// </summary>
/// <remarks>
/// The two pipes are read asynchronously, so when the runtime's answer arrives on the Runtime API, lines it printed
/// just before may still be in a pipe or in the reader. Inlet's own bootstraps settle this exactly: before each
/// answer (and before their first <c>/next</c>) they write a mark — a random token, known only to this environment,
/// followed by what they answer — on both streams, and the answer is held until the mark has been read from both.
/// The pipes are in order, so every line written before the answer is then in the log. A mark that never comes
/// (a handler that closed its stdout) is given up on after <see cref="MarkTimeout"/>; a stream that reached its end
/// has nothing more to wait for. Other runtimes (<c>provided</c>, any bootstrap) write no mark: for them the
/// barrier waits until the output has been quiet for <see cref="Quiet"/> after the answer, at most
/// <see cref="MaxSettle"/>. Everything was in the pipes when the answer was sent, and the readers take it from there
/// within microseconds, so this only fails a runtime whose readers are starved for longer than that.
/// </remarks>
internal sealed class RuntimeOutput
{
    public static readonly TimeSpan MarkTimeout = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(10);
    public static readonly TimeSpan MaxSettle = TimeSpan.FromMilliseconds(100);

    private readonly string? _mark;
    private readonly Action<string> _write;
    private readonly object _gate = new();
    private readonly string?[] _marked = new string?[2];
    private readonly bool[] _closed = new bool[2];
    private readonly TaskCompletionSource _allClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private (string Tag, TaskCompletionSource Done)? _waiter;
    private long _lastLine;

    /// <param name="mark">The token the runtime writes before each answer, or null for a runtime that writes none.</param>
    /// <param name="write">Appends one line to the function's log.</param>
    public RuntimeOutput(string? mark, Action<string> write)
    {
        _mark = mark;
        _write = write;
    }

    public const int StandardOutput = 0;
    public const int StandardError = 1;

    /// <summary>A line read from one of the streams; null when the stream has ended.</summary>
    public void OnLine(int stream, string? line)
    {
        if (line is null)
        {
            lock (_gate)
            {
                _closed[stream] = true;
                if (_closed[StandardOutput] && _closed[StandardError])
                {
                    _allClosed.TrySetResult();
                }

                Release();
            }

            return;
        }

        var at = _mark is null ? -1 : line.IndexOf(_mark, StringComparison.Ordinal);
        if (at < 0)
        {
            Volatile.Write(ref _lastLine, Stopwatch.GetTimestamp());
            _write(line);
            return;
        }

        // What the handler printed without a newline ends up in front of the mark: it is a line of its own.
        if (at > 0)
        {
            _write(line[..at]);
        }

        lock (_gate)
        {
            _marked[stream] = line[(at + _mark!.Length)..];
            Release();
        }
    }

    /// <summary>Returns once every line the runtime wrote before it sent the answer marked <paramref name="tag"/> is in the log.</summary>
    public async Task DrainAsync(string tag, CancellationToken cancellationToken)
    {
        if (_mark is null)
        {
            await SettleAsync(cancellationToken);
            return;
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (Reached(tag))
            {
                return;
            }

            _waiter = (tag, done);
        }

        try
        {
            await done.Task.WaitAsync(MarkTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            // The mark did not come; the answer is not held any longer for it.
        }
        finally
        {
            lock (_gate)
            {
                if (_waiter?.Done == done)
                {
                    _waiter = null;
                }
            }
        }
    }

    /// <summary>Waits, a bounded time, for both streams to end once the process has exited.</summary>
    public async Task WaitClosedAsync(TimeSpan timeout)
    {
        try
        {
            await _allClosed.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            // A child process of the runtime still holds the pipes open.
        }
    }

    private async Task SettleAsync(CancellationToken cancellationToken)
    {
        var answered = Stopwatch.GetTimestamp();
        while (!_allClosed.Task.IsCompleted)
        {
            var last = Math.Max(answered, Volatile.Read(ref _lastLine));
            var wait = Quiet - Stopwatch.GetElapsedTime(last);
            var left = MaxSettle - Stopwatch.GetElapsedTime(answered);
            if (wait <= TimeSpan.Zero || left <= TimeSpan.Zero)
            {
                return;
            }

            await Task.Delay(wait < left ? wait : left, cancellationToken);
        }
    }

    private bool Reached(string tag) =>
        (_closed[StandardOutput] || _marked[StandardOutput] == tag) && (_closed[StandardError] || _marked[StandardError] == tag);

    private void Release()
    {
        if (_waiter is { } waiter && Reached(waiter.Tag))
        {
            _waiter = null;
            waiter.Done.TrySetResult();
        }
    }
}
