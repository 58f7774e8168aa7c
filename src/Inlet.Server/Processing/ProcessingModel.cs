using System.Text.Json;
using System.Text.Json.Serialization;
using Inlet.Mail;

namespace Inlet.Processing;

/// <summary>One step of what happened to a message, as the trace shows it.</summary>
internal sealed record TraceEntry
{
    public required DateTimeOffset At { get; init; }

    /// <summary><c>received</c>, <c>verdicts</c>, <c>rule</c>, <c>action</c>, <c>aws-call</c> (a function's call to an AWS API), <c>notification</c>, <c>bounce</c>, <c>end</c> or <c>note</c>.</summary>
    public required string Kind { get; init; }

    public string? Rule { get; init; }

    /// <summary>Position of the action in its rule, from 0.</summary>
    public int? Action { get; init; }

    public string? ActionType { get; init; }

    /// <summary>For actions: <c>ok</c>, <c>failed</c>, <c>retrying</c>, <c>expired</c>, <c>unsupported</c>, <c>stop-rule</c>, <c>stop-rule-set</c>.</summary>
    public string? Outcome { get; init; }

    public double? DurationMs { get; init; }

    public IReadOnlyList<string>? Recipients { get; init; }

    public string? Detail { get; init; }

    public string? Error { get; init; }
}

/// <summary>Where processing of a message stands; saved after every action so that it resumes where it stopped.</summary>
internal sealed record ProcessingProgress
{
    /// <summary>Position in the list of applicable rules.</summary>
    public int Rule { get; init; }

    /// <summary>Next action of that rule.</summary>
    public int Action { get; init; }

    public IReadOnlyList<AddedHeader> AddedHeaders { get; init; } = [];

    /// <summary>The verdicts and SES's headers for them, computed once from the message as received.</summary>
    public Inlet.Authentication.AuthenticationRecord? Authentication { get; init; }

    /// <summary>Failed attempts of the current action.</summary>
    public int Attempts { get; init; }

    public DateTimeOffset? FirstFailureAt { get; init; }

    /// <summary>An action gave up after its retries; the message ends as failed.</summary>
    public bool AnyExpired { get; init; }

    /// <summary>Reply of the first Bounce, for inline mode.</summary>
    public string? BounceReply { get; init; }

    public bool Finished { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<TraceEntry>))]
[JsonSerializable(typeof(ProcessingProgress))]
internal sealed partial class ProcessingJsonContext : JsonSerializerContext
{
    public static List<TraceEntry> ReadTrace(string? json) =>
        json is null ? [] : JsonSerializer.Deserialize(json, Default.ListTraceEntry) ?? [];

    public static string WriteTrace(List<TraceEntry> trace) => JsonSerializer.Serialize(trace, Default.ListTraceEntry);

    public static ProcessingProgress ReadProgress(string? json) =>
        json is null ? new ProcessingProgress() : JsonSerializer.Deserialize(json, Default.ProcessingProgress) ?? new ProcessingProgress();

    public static string WriteProgress(ProcessingProgress progress) => JsonSerializer.Serialize(progress, Default.ProcessingProgress);
}
