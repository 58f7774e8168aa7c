using System.Collections.Immutable;
using System.Text.Json.Serialization;
using Inlet.Mail;
using Inlet.Management;

namespace Inlet.WebConsole;

internal sealed record RuleActionView(string Type, SesReceiptAction Receipt, string Effect);

internal sealed record RuleView(string Name, bool Enabled, string TlsPolicy, bool ScanEnabled, IReadOnlyList<string> Recipients, IReadOnlyList<RuleActionView> Actions);

internal sealed record RuleSetView(string Name, bool Active, IReadOnlyList<RuleView> Rules);

internal sealed record FilterView(string Name, string Policy, string Cidr);

/// <summary>The receipt configuration in force: every rule set (the active one marked), its rules in order, the IP filters.</summary>
internal sealed record RulesView(string? ActiveRuleSet, long Version, IReadOnlyList<RuleSetView> RuleSets, IReadOnlyList<FilterView> Filters);

internal sealed record HeaderView(string Name, string Value);

/// <summary>An attachment or inline part; <see cref="Index"/> is its place in <c>/api/messages/{id}/parts/{index}</c>.</summary>
internal sealed record PartView(int Index, string FileName, string ContentType, long Size, string? ContentId, bool Attachment);

/// <summary>A stored message as a reader sees it: its header fields as sent, its text body, whether it has an HTML body, its parts.</summary>
internal sealed record ContentView(IReadOnlyList<HeaderView> Headers, string? Text, bool HasHtml, IReadOnlyList<PartView> Attachments);

internal sealed record InvocationListView(IReadOnlyList<InvocationView> Invocations);

internal sealed record FunctionView(
    string FunctionName,
    string FunctionArn,
    string Runtime,
    string Handler,
    string Description,
    int Timeout,
    int MemorySize,
    string? Role,
    string? CodePath,
    string CodeSha256,
    long CodeSize,
    string? Url,
    ImmutableSortedDictionary<string, string> Environment,
    int? ReservedConcurrentExecutions,
    int MaximumRetryAttempts,
    int MaximumEventAgeInSeconds,
    DateTimeOffset LastModified);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RulesView))]
[JsonSerializable(typeof(ContentView))]
[JsonSerializable(typeof(InvocationView))]
[JsonSerializable(typeof(InvocationListView))]
[JsonSerializable(typeof(FunctionView))]
[JsonSerializable(typeof(LogView))]
[JsonSerializable(typeof(ConsoleInfo))]
internal sealed partial class ConsoleJsonContext : JsonSerializerContext;
