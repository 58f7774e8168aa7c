using System.Diagnostics;

namespace Inlet.Functions;

/// <summary>What a function answered: its result, or the error the runtime reported for it.</summary>
internal sealed record InvocationOutcome(bool IsError, byte[] Payload, string? ErrorType = null)
{
    public static InvocationOutcome Error(string errorType, string message) =>
        new(true, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new FunctionErrorPayload(errorType, message), FunctionsJsonContext.Default.FunctionErrorPayload), errorType);
}

/// <summary>The Lambda error document: <c>{"errorType", "errorMessage"}</c> (runtimes add <c>trace</c> or <c>stackTrace</c>).</summary>
internal sealed record FunctionErrorPayload(
    [property: System.Text.Json.Serialization.JsonPropertyName("errorType")] string ErrorType,
    [property: System.Text.Json.Serialization.JsonPropertyName("errorMessage")] string ErrorMessage);

/// <summary>One invocation on its way through an execution environment.</summary>
internal sealed class Invocation(string requestId, byte[] payload, DateTimeOffset deadline, string invokedFunctionArn, string? clientContext)
{
    public string RequestId { get; } = requestId;

    public byte[] Payload { get; } = payload;

    public DateTimeOffset Deadline { get; } = deadline;

    public string InvokedFunctionArn { get; } = invokedFunctionArn;

    public string? ClientContext { get; } = clientContext;

    /// <summary>The AWS calls the function made with its credentials while this invocation ran, in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> AwsCalls { get; init; } = new();

    public TaskCompletionSource<InvocationOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>When the event had been written to the runtime (Stopwatch ticks).</summary>
    public long DispatchedAt { get; set; }

    /// <summary>When the runtime's answer arrived (Stopwatch ticks).</summary>
    public long AnsweredAt { get; set; }

    public void Answer(InvocationOutcome outcome)
    {
        if (AnsweredAt == 0)
        {
            AnsweredAt = Stopwatch.GetTimestamp();
        }

        Completion.TrySetResult(outcome);
    }
}

/// <summary>The result of an invocation as callers see it (the Invoke API, the Lambda action).</summary>
internal sealed record InvocationResult
{
    public required string RequestId { get; init; }

    public required byte[] Payload { get; init; }

    /// <summary>Set when the function failed: <c>Unhandled</c>, as Lambda reports every runtime error.</summary>
    public string? FunctionError { get; init; }

    /// <summary>The runtime's error type (<c>Error</c>, <c>Sandbox.Timedout</c>, <c>Runtime.ExitError</c>, …).</summary>
    public string? ErrorType { get; init; }

    public string? ErrorMessage { get; init; }

    /// <summary>The invocation's log lines (START to REPORT).</summary>
    public string LogTail { get; init; } = string.Empty;

    public TimeSpan Duration { get; init; }

    public TimeSpan? InitDuration { get; init; }

    /// <summary>Inlet's own part of the round trip: handing the event over and taking the answer back.</summary>
    public TimeSpan Overhead { get; init; }

    /// <summary>The AWS calls the function made during the invocation ("GetObject mail/inbox/… 200").</summary>
    public IReadOnlyList<string> AwsCalls { get; init; } = [];
}

/// <summary>The function cannot take another invocation now (Lambda's TooManyRequestsException).</summary>
internal sealed class FunctionThrottledException(string message) : Exception(message);
