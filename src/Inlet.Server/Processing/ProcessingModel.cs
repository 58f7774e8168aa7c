using System.Text.Json;
using System.Text.Json.Serialization;
using Inlet.Mail;

namespace Inlet.Processing;

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

    /// <summary>
    /// The side effects of the current action that are done (its function invoked, its DSN sent, …): a retry of the
    /// action resumes after them. Cleared when the action ends.
    /// </summary>
    public IReadOnlyList<Inlet.Actions.CompletedStep> Steps { get; init; } = [];

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
[JsonSerializable(typeof(ProcessingProgress))]
internal sealed partial class ProcessingJsonContext : JsonSerializerContext
{
    public static ProcessingProgress ReadProgress(string? json) =>
        json is null ? new ProcessingProgress() : JsonSerializer.Deserialize(json, Default.ProcessingProgress) ?? new ProcessingProgress();

    public static string WriteProgress(ProcessingProgress progress) => JsonSerializer.Serialize(progress, Default.ProcessingProgress);
}
