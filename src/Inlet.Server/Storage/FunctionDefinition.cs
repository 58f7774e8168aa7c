using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace Inlet.Storage;

/// <summary>
/// A function in Lambda's <c>CreateFunction</c> shape. Only <c>$LATEST</c> exists: Inlet has no published versions
/// or aliases.
/// </summary>
internal sealed record FunctionDefinition
{
    public const int DefaultTimeout = 3;
    public const int MaxTimeout = 900;
    public const int DefaultMemorySize = 128;

    public required string FunctionName { get; init; }

    public required string FunctionArn { get; init; }

    /// <summary><c>nodejs20.x</c>, <c>nodejs22.x</c>, <c>python3.9</c> to <c>python3.13</c>, <c>provided.al2023</c>, <c>provided.al2</c> or <c>http</c>.</summary>
    public required string Runtime { get; init; }

    /// <summary>The handler string; for <c>provided</c> runtimes it is passed on as <c>_HANDLER</c> and otherwise unused.</summary>
    public string Handler { get; init; } = "index.handler";

    /// <summary>The folder the code runs in (a zip is unpacked into the data folder first). None for <c>http</c>.</summary>
    public string? CodePath { get; init; }

    /// <summary>Base64 SHA-256 of the code package, as Lambda reports it.</summary>
    public string CodeSha256 { get; init; } = string.Empty;

    public long CodeSize { get; init; }

    /// <summary>For the <c>http</c> runtime: where the event is POSTed.</summary>
    public string? Url { get; init; }

    /// <summary>Seconds, 1 to 900.</summary>
    public int Timeout { get; init; } = DefaultTimeout;

    /// <summary>MB, 128 to 10240: an environment whose processes use more is stopped, as Lambda stops it.</summary>
    public int MemorySize { get; init; } = DefaultMemorySize;

    public string Description { get; init; } = string.Empty;

    /// <summary>
    /// The execution role CreateFunction was given, reported back as Lambda does; Inlet does not assume it. None for
    /// functions declared without one.
    /// </summary>
    public string? Role { get; init; }

    public ImmutableSortedDictionary<string, string> Environment { get; init; } = ImmutableSortedDictionary<string, string>.Empty;

    /// <summary>At most this many environments at once; 0 turns the function off (every invocation is throttled).</summary>
    public int? ReservedConcurrentExecutions { get; init; }

    /// <summary>Retries of a failed asynchronous invocation, 0 to 2 (Lambda's default 2).</summary>
    public int MaximumRetryAttempts { get; init; } = 2;

    /// <summary>How old an asynchronous event may get before it is dropped to the dead-letter list, 60 to 21600 s.</summary>
    public int MaximumEventAgeInSeconds { get; init; } = 21600;

    public DateTimeOffset LastModified { get; init; } = DateTimeOffset.UtcNow;

    public bool IsNode => Runtime.StartsWith("nodejs", StringComparison.Ordinal);

    public bool IsProvided => Runtime.StartsWith("provided", StringComparison.Ordinal);

    public bool IsPython => Runtime.StartsWith("python", StringComparison.Ordinal);

    public bool IsHttp => Runtime == "http";

    public static readonly ImmutableArray<string> SupportedRuntimes = ["nodejs18.x", "nodejs20.x", "nodejs22.x", "python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "provided.al2023", "provided.al2", "provided", "http"];

    /// <summary>The role shown for a function declared without one.</summary>
    public static string DefaultRoleFor(string account) => $"arn:aws:iam::{account}:role/inlet-function";

    /// <summary>Lambda's pattern for <c>Role</c> (botocore's <c>RoleArn</c> shape).</summary>
    public const string RolePattern = @"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+";

    public static bool IsValidRole(string role) =>
        role.Length <= 2048 && System.Text.RegularExpressions.Regex.IsMatch(role, "^" + RolePattern + "$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    public static string ArnFor(string region, string account, string name) => $"arn:aws:lambda:{region}:{account}:function:{name}";
}

/// <summary>JSON of function definitions, for the functions created through the API.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(FunctionDefinition))]
internal sealed partial class FunctionDefinitionJsonContext : JsonSerializerContext;
