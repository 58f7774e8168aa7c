namespace Inlet.Storage;

// The shapes of the function logs (Functions/FunctionLogs.cs): their lines, streams, reads and pages.

/// <summary>
/// One line of a function's log: when it was written, the invocation it belongs to (known only while the server
/// that wrote it runs), the log stream (execution environment) it came from, and its place in the log file, which
/// is unique and grows with every line, so it serves as the line's event id and as a paging position.
/// </summary>
internal sealed record LogLine(DateTimeOffset At, string? RequestId, string Stream, string Text, long Position)
{
    public long Timestamp => At.ToUnixTimeMilliseconds();
}

/// <summary>A log stream: one execution environment's lines.</summary>
internal sealed record LogStreamInfo(string Name, DateTimeOffset First, DateTimeOffset Last, long FirstPosition);

/// <summary>Which lines of a function's log to read (the CloudWatch Logs reads).</summary>
internal sealed record LogQuery
{
    /// <summary>Only these streams; all when null.</summary>
    public IReadOnlySet<string>? Streams { get; init; }

    public string? StreamPrefix { get; init; }

    /// <summary>Epoch milliseconds; lines at or after it.</summary>
    public long? StartTime { get; init; }

    /// <summary>Epoch milliseconds; lines before it.</summary>
    public long? EndTime { get; init; }

    /// <summary>Lines at or after this position.</summary>
    public long From { get; init; }

    /// <summary>Lines before this position.</summary>
    public long Before { get; init; } = long.MaxValue;

    public Func<string, bool>? Match { get; init; }

    public int Limit { get; init; } = 10_000;

    /// <summary>The newest <see cref="Limit"/> lines of the range rather than the oldest.</summary>
    public bool Latest { get; init; }
}

/// <summary>Lines of one read, oldest first, and where the next read goes on when the limit cut it short.</summary>
internal sealed record LogPage(IReadOnlyList<LogLine> Lines, long? Next);
