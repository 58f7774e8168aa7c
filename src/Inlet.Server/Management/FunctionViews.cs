using Inlet.Storage;

namespace Inlet.Management;

// The shapes in which the function queries answer: what the console shows of invocations and their log lines.

internal sealed record LogView(DateTimeOffset At, string Stream, string? RequestId, string Text)
{
    public static LogView From(LogLine line) => new(line.At, line.Stream, line.RequestId, line.Text);
}

/// <summary>One finished invocation; <see cref="Disposition"/> is what SES would read from its result.</summary>
internal sealed record InvocationView(
    string FunctionName,
    string RequestId,
    DateTimeOffset StartedAt,
    double DurationMs,
    double? InitDurationMs,
    string? Source,
    string Event,
    string Result,
    string? Disposition,
    string? ErrorType,
    string? ErrorMessage,
    IReadOnlyList<string> AwsCalls,
    IReadOnlyList<LogView>? Log);

/// <summary>What a synchronous invocation answered: its request id, payload, error kind and the tail of its log.</summary>
internal sealed record InvokeResult(string RequestId, byte[] Payload, string? FunctionError, string LogTail);
