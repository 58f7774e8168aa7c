using System.IO.Pipes;
using Microsoft.Win32.SafeHandles;
using System.Runtime.InteropServices;
using System.Text;

namespace Inlet.Functions;

/// <summary>
/// The stdout and stderr of a runtime process, line by line, and the barrier that keeps an invocation's output
/// ahead of its <c>END</c> line.
/// </summary>
/// <remarks>
/// A runtime writes its output before it sends its answer, so when the answer arrives on the Runtime API every line
/// printed before it is in a pipe or already read. <see cref="Drain"/> settles this exactly and at once: every read of
/// the pipes — the reader thread's and the drain's — happens under one lock together with the lines it yields, and
/// each read follows a poll(2) that found data or the end, so none waits. A drain that finds both pipes empty knows
/// that everything written before it is in the log; text without a final newline is then a line of its own. This holds
/// for every runtime, with no token written by the runtime and no quiet time waited for. Only output a runtime still
/// holds in its own buffers (a C program's stdio), or that a child process writes after the answer, lands after
/// <c>END</c>.
/// </remarks>
internal sealed partial class RuntimeOutput
{
    public const int StandardOutput = 0;
    public const int StandardError = 1;

    /// <summary>
    /// A line longer than this is cut there and logged in parts, as CloudWatch Logs holds an event to 256 KB; a runtime
    /// that writes without newlines then costs a bounded buffer.
    /// </summary>
    public const int MaxLine = 256 * 1024;

    /// <summary>How long the reader sleeps at most between looks at whether it was stopped.</summary>
    private const int PollMilliseconds = 1000;

    /// <summary>A drain reads at most this much of each pipe, so a runtime that keeps writing cannot hold an answer.</summary>
    private const int MaxDrain = 4 * 1024 * 1024;

    /// <summary>What the reader reads of each pipe before it lets go of the lock.</summary>
    private const int ReaderTurn = 256 * 1024;

    private readonly Action<string> _write;
    private readonly object _gate = new();
    private readonly SafePipeHandle?[] _handles = new SafePipeHandle?[2];
    private readonly int[] _fds = [-1, -1];
    private readonly bool[] _closed = [true, true];
    private readonly List<byte>[] _partial = [[], []];
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly TaskCompletionSource _allClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopped;

    /// <param name="write">Appends one line to the function's log.</param>
    public RuntimeOutput(Action<string> write)
    {
        _write = write;
    }

    /// <summary>Starts reading the runtime's stdout and stderr (the pipes of a started process).</summary>
    public void Start(Stream standardOutput, Stream standardError)
    {
        lock (_gate)
        {
            Attach(StandardOutput, standardOutput);
            Attach(StandardError, standardError);
        }

        new Thread(ReadLoop) { IsBackground = true, Name = "Function output" }.Start();
    }

    /// <summary>Logs every line the runtime wrote before this call: what is in the pipes, and any text without a final newline.</summary>
    public void Drain()
    {
        lock (_gate)
        {
            // The usual answer finds both pipes empty: one poll(2) of the two says so, where a look at each took two.
            var anyReady = AnyReady();
            for (var stream = 0; stream < 2; stream++)
            {
                if (anyReady)
                {
                    ReadAvailable(stream, MaxDrain);
                }

                FlushPartial(stream);
            }
        }
    }

    /// <summary>Whether either open pipe has data, its end or an error to be read now; true when poll(2) fails. Under the lock.</summary>
    private bool AnyReady()
    {
        Span<PollFd> polls = stackalloc PollFd[2];
        // An interrupted or failed poll (-1) proves nothing: each pipe is then looked at on its own.
        return PollOpen(polls, 0) is { } ready && ready != 0;
    }

    /// <summary>
    /// poll(2) of the pipes still open: the number ready, or -1 when the call failed; null when both are closed.
    /// The descriptors are read under the lock; the poll itself is not.
    /// </summary>
    private int? PollOpen(Span<PollFd> polls, int timeout)
    {
        int open;
        lock (_gate)
        {
            open = 0;
            for (var stream = 0; stream < 2; stream++)
            {
                if (!_closed[stream])
                {
                    polls[open++] = new PollFd { Fd = _fds[stream], Events = PollIn };
                }
            }
        }

        if (open == 0)
        {
            return null;
        }

        unsafe
        {
            fixed (PollFd* fds = polls)
            {
                return Poll(fds, (nuint)open, timeout);
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

    /// <summary>Stops the reader; it lets go of the pipes within <see cref="PollMilliseconds"/>.</summary>
    public void Stop() => _stopped = true;

    private void Attach(int stream, Stream pipe)
    {
        // .NET's Process gives pipes on Linux and macOS, the systems functions run on; the reader polls their descriptors.
        var handle = (pipe as PipeStream ?? throw new PlatformNotSupportedException(
            $"A function's output is read from the pipes of its process; this system gave a {pipe.GetType().Name}. Functions run on Linux and macOS.")).SafePipeHandle;
        var added = false;
        // Held until the reader lets go, so that the descriptor is not closed (and its number reused) under a read.
        handle.DangerousAddRef(ref added);
        var fd = (int)handle.DangerousGetHandle();
        _handles[stream] = handle;
        _fds[stream] = fd;
        _closed[stream] = false;
    }

    private void ReadLoop()
    {
        var polls = new PollFd[2];
        try
        {
            while (!_stopped)
            {
                if (PollOpen(polls, PollMilliseconds) is not { } ready)
                {
                    return;
                }

                if (ready < 0 && Marshal.GetLastPInvokeError() != EINTR)
                {
                    // A poll that failed for want of memory, say: look again shortly rather than spin.
                    Thread.Sleep(10);
                }

                if (ready <= 0)
                {
                    continue;
                }

                lock (_gate)
                {
                    // A bounded amount at a time, so that a runtime writing without pause cannot keep a drain waiting
                    // for the lock: what is left is read on the next turn.
                    for (var stream = 0; stream < 2; stream++)
                    {
                        ReadAvailable(stream, ReaderTurn);
                    }
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                for (var stream = 0; stream < 2; stream++)
                {
                    Close(stream);
                    _handles[stream]?.DangerousRelease();
                    _handles[stream] = null;
                    _fds[stream] = -1;
                }
            }
        }
    }

    /// <summary>Reads what the pipe holds now, without waiting, and logs each complete line. Under the lock.</summary>
    private void ReadAvailable(int stream, int limit)
    {
        var total = 0;
        while (!_closed[stream] && total < limit)
        {
            int ready;
            short events;
            unsafe
            {
                var poll = new PollFd { Fd = _fds[stream], Events = PollIn };
                ready = Poll(&poll, 1, 0);
                events = poll.Revents;
            }

            if (ready == 0)
            {
                return;
            }

            if (ready < 0 && Marshal.GetLastPInvokeError() == EINTR)
            {
                continue;
            }

            // Data or the end (POLLHUP) can be read; an error or a descriptor gone (POLLERR, POLLNVAL) cannot.
            if (ready > 0 && (events & (PollIn | PollHup)) != 0)
            {
                int read;
                unsafe
                {
                    fixed (byte* buffer = _buffer)
                    {
                        read = (int)Read(_fds[stream], buffer, (nuint)_buffer.Length);
                    }
                }

                if (read > 0)
                {
                    total += read;
                    Split(stream, _buffer.AsSpan(0, read));
                    continue;
                }

                if (read < 0 && Marshal.GetLastPInvokeError() == EINTR)
                {
                    continue;
                }
            }

            // The end of the stream (every writer closed it), or a pipe that can no longer be read.
            FlushPartial(stream);
            Close(stream);
            return;
        }
    }

    private void Split(int stream, ReadOnlySpan<byte> data)
    {
        var partial = _partial[stream];
        while (data.Length > 0)
        {
            var end = data.IndexOf((byte)'\n');
            var piece = end < 0 ? data : data[..end];
            var room = MaxLine - partial.Count;
            if (piece.Length > room)
            {
                // The line reaches the limit: its first MaxLine octets are logged as a line, or fewer when a UTF-8
                // sequence straddles the limit, so that the character goes whole into the next part.
                var cut = MaxLine;
                for (var back = 0; back < 3 && (ByteAt(partial, piece, cut) & 0xC0) == 0x80; back++)
                {
                    cut--;
                }

                if ((ByteAt(partial, piece, cut) & 0xC0) == 0x80)
                {
                    cut = MaxLine; // not UTF-8 there: cut at the limit
                }

                if (cut >= partial.Count)
                {
                    var taken = cut - partial.Count;
                    partial.AddRange(piece[..taken]);
                    FlushPartial(stream);
                    data = data[taken..];
                }
                else
                {
                    Emit(CollectionsMarshal.AsSpan(partial)[..cut]);
                    partial.RemoveRange(0, cut);
                }

                continue;
            }

            if (end < 0)
            {
                partial.AddRange(piece);
                return;
            }

            if (partial.Count == 0)
            {
                Emit(piece);
            }
            else
            {
                partial.AddRange(piece);
                FlushPartial(stream);
            }

            data = data[(end + 1)..];
        }
    }

    /// <summary>The octet at <paramref name="index"/> of the kept start of a line followed by the piece read after it.</summary>
    private static byte ByteAt(List<byte> partial, ReadOnlySpan<byte> piece, int index) =>
        index < partial.Count ? partial[index] : piece[index - partial.Count];

    private void FlushPartial(int stream)
    {
        var partial = _partial[stream];
        if (partial.Count > 0)
        {
            Emit(CollectionsMarshal.AsSpan(partial));
            partial.Clear();
        }
    }

    /// <summary>One line, without its CR LF or LF; a newline never falls inside a UTF-8 sequence, so bytes split safely.</summary>
    private void Emit(ReadOnlySpan<byte> line)
    {
        if (line.Length > 0 && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        _write(Encoding.UTF8.GetString(line));
    }

    private void Close(int stream)
    {
        if (_closed[stream])
        {
            return;
        }

        _closed[stream] = true;
        if (_closed[StandardOutput] && _closed[StandardError])
        {
            _allClosed.TrySetResult();
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    private const short PollIn = 0x1;
    private const short PollHup = 0x10;
    private const int EINTR = 4;

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int Poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint Read(int fd, byte* buffer, nuint count);
}
