namespace Inlet.Storage;

/// <summary>An asynchronous (<c>Event</c>) invocation waiting in the durable queue, or dead-lettered.</summary>
internal sealed record AsyncInvocationRecord
{
    public required string Id { get; init; }

    public required string FunctionName { get; init; }

    public required byte[] Payload { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public int Attempts { get; init; }

    public DateTimeOffset NextAttemptAt { get; init; }

    /// <summary><c>pending</c> or <c>dead</c>.</summary>
    public string Status { get; init; } = WorkStatus.Pending;

    /// <summary>Why it died, or the last attempt's error.</summary>
    public string? LastError { get; init; }

    /// <summary>Where it came from, such as <c>ses:&lt;message id&gt;</c> or <c>invoke</c>.</summary>
    public string? Source { get; init; }
}

/// <summary>Lambda's asynchronous invocation queue, and its dead letters.</summary>
internal interface IInvocationStore
{
    /// <summary>The items still to be worked on, as a work queue that several nodes share.</summary>
    IWorkQueue<AsyncInvocationRecord> InvocationQueue { get; }

    Task InsertInvocationAsync(AsyncInvocationRecord invocation, CancellationToken cancellationToken);

    /// <summary>Changes an invocation unless another node holds its lease; returns whether it was changed.</summary>
    Task<bool> UpdateInvocationAsync(AsyncInvocationRecord invocation, CancellationToken cancellationToken);

    Task DeleteInvocationAsync(string id, CancellationToken cancellationToken);

    Task<AsyncInvocationRecord?> GetInvocationAsync(string id, CancellationToken cancellationToken);

    /// <summary>Invocations with the status, newest first.</summary>
    Task<IReadOnlyList<AsyncInvocationRecord>> ListInvocationsAsync(string status, int limit, CancellationToken cancellationToken);
}
