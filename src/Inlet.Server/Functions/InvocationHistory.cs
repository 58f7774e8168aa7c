using System.Text;

namespace Inlet.Functions;

/// <summary>One finished invocation, as the console shows it: what went in, what came out, and how long it took.</summary>
internal sealed record InvocationRecord
{
    public required string FunctionName { get; init; }

    public required string RequestId { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    public required double DurationMs { get; init; }

    public double? InitDurationMs { get; init; }

    /// <summary>Who asked: <c>ses:&lt;message id&gt;</c> for the Lambda action, <c>invoke</c>, <c>async:&lt;queue id&gt;</c>.</summary>
    public string? Source { get; init; }

    /// <summary>The event, cut at <see cref="InvocationHistory.MaxPayloadChars"/>.</summary>
    public required string Event { get; init; }

    /// <summary>The result or the error document, cut likewise.</summary>
    public required string Result { get; init; }

    public string? ErrorType { get; init; }

    public string? ErrorMessage { get; init; }

    public IReadOnlyList<string> AwsCalls { get; init; } = [];
}

/// <summary>
/// The newest invocations of every function, kept in memory (they are not needed to run anything, and a restart
/// starts the list afresh; the function's log keeps its lines across restarts). Tells listeners of each new one.
/// </summary>
internal sealed class InvocationHistory
{
    public const int KeptPerFunction = 200;

    public const int MaxPayloadChars = 64 * 1024;

    private readonly Dictionary<string, LinkedList<InvocationRecord>> _byFunction = new(StringComparer.Ordinal);
    private readonly object _gate = new();

    public event Action<InvocationRecord>? Recorded;

    public void Record(InvocationRecord record)
    {
        lock (_gate)
        {
            if (!_byFunction.TryGetValue(record.FunctionName, out var list))
            {
                _byFunction[record.FunctionName] = list = new LinkedList<InvocationRecord>();
            }

            list.AddFirst(record);
            while (list.Count > KeptPerFunction)
            {
                list.RemoveLast();
            }
        }

        Recorded?.Invoke(record);
    }

    /// <summary>Newest first.</summary>
    public IReadOnlyList<InvocationRecord> Of(string function, int limit)
    {
        lock (_gate)
        {
            return _byFunction.TryGetValue(function, out var list) ? list.Take(limit).ToList() : [];
        }
    }

    /// <summary>The invocations made for one source (such as a message's Lambda actions), oldest first.</summary>
    public IReadOnlyList<InvocationRecord> ForSource(string source)
    {
        lock (_gate)
        {
            return _byFunction.Values.SelectMany(l => l).Where(r => r.Source == source).OrderBy(r => r.StartedAt).ToList();
        }
    }

    public InvocationRecord? Find(string function, string requestId)
    {
        lock (_gate)
        {
            return _byFunction.TryGetValue(function, out var list) ? list.FirstOrDefault(r => r.RequestId == requestId) : null;
        }
    }

    public static string Cut(byte[] payload) =>
        payload.Length <= MaxPayloadChars ? Encoding.UTF8.GetString(payload) : Encoding.UTF8.GetString(payload, 0, MaxPayloadChars) + "…";
}
