using System.Text.Json;
using System.Text.Json.Serialization;

namespace Inlet.Core;

/// <summary>One step of what happened to a message, as the trace shows it.</summary>
internal sealed record TraceEntry
{
    public required DateTimeOffset At { get; init; }

    /// <summary>One of <see cref="TraceKind"/>.</summary>
    public required string Kind { get; init; }

    public string? Rule { get; init; }

    /// <summary>Position of the action in its rule, from 0.</summary>
    public int? Action { get; init; }

    public string? ActionType { get; init; }

    /// <summary>For actions, one of <see cref="TraceOutcome"/>; for notifications <c>ok</c> or <c>not-sent</c>.</summary>
    public string? Outcome { get; init; }

    public double? DurationMs { get; init; }

    public IReadOnlyList<string>? Recipients { get; init; }

    public string? Detail { get; init; }

    public string? Error { get; init; }
}

/// <summary>What a trace entry records.</summary>
internal static class TraceKind
{
    /// <summary>The message was taken up: the rule set version and how many rules apply.</summary>
    public const string Received = "received";

    public const string Verdicts = "verdicts";

    /// <summary>A rule of the plan begins.</summary>
    public const string Rule = "rule";

    /// <summary>An action's attempt, with its outcome.</summary>
    public const string Action = "action";

    /// <summary>A function's call to an AWS API while its action ran.</summary>
    public const string AwsCall = "aws-call";

    /// <summary>An action's notification to its TopicArn.</summary>
    public const string Notification = "notification";

    /// <summary>A bounce message (DSN) sent to the envelope sender.</summary>
    public const string Bounce = "bounce";

    /// <summary>Evaluation ended; the detail says how.</summary>
    public const string End = "end";

    /// <summary>An event from outside the run, such as a replay; the entries after the last note are the latest run's.</summary>
    public const string Note = "note";
}

/// <summary>How an action's attempt ended, as the trace shows it.</summary>
internal static class TraceOutcome
{
    public const string Ok = "ok";
    public const string Failed = "failed";
    public const string Retrying = "retrying";
    public const string Expired = "expired";
    public const string Unsupported = "unsupported";
    public const string StopRule = "stop-rule";
    public const string StopRuleSet = "stop-rule-set";

    /// <summary>A notification that could not go out (the topic has no subscriptions, …) but is no failure.</summary>
    public const string NotSent = "not-sent";
}

/// <summary>A RequestResponse function's <c>disposition</c>, as SES reads it.</summary>
internal static class Disposition
{
    public const string Continue = "CONTINUE";
    public const string StopRule = "STOP_RULE";
    public const string StopRuleSet = "STOP_RULE_SET";

    /// <summary>
    /// The <c>disposition</c> of a function's result, upper-cased; CONTINUE for a null result, a result without a
    /// disposition, or any value other than STOP_RULE and STOP_RULE_SET (SES: "same as with CONTINUE").
    /// </summary>
    public static string Read(byte[] payload)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(payload);
            if (document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                && document.RootElement.TryGetProperty("disposition", out var value)
                && value.ValueKind == System.Text.Json.JsonValueKind.String)
            {
                var disposition = value.GetString()!.Trim().ToUpperInvariant();
                return disposition is Disposition.StopRule or Disposition.StopRuleSet ? disposition : Disposition.Continue;
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Not JSON: no valid disposition.
        }

        return Disposition.Continue;
    }
}

/// <summary>A message's trace as the state store keeps it: a JSON array of entries.</summary>
internal static class MessageTrace
{
    public static List<TraceEntry> Read(string? json) =>
        json is null ? [] : JsonSerializer.Deserialize(json, TraceJsonContext.Default.ListTraceEntry) ?? [];

    public static string Write(List<TraceEntry> trace) => JsonSerializer.Serialize(trace, TraceJsonContext.Default.ListTraceEntry);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<TraceEntry>))]
internal sealed partial class TraceJsonContext : JsonSerializerContext;
