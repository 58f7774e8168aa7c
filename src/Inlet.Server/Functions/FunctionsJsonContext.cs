using System.Text.Json.Serialization;

namespace Inlet.Functions;

internal sealed record RuntimeStatusResponse([property: JsonPropertyName("status")] string Status);

[JsonSerializable(typeof(FunctionErrorPayload))]
[JsonSerializable(typeof(RuntimeStatusResponse))]
internal sealed partial class FunctionsJsonContext : JsonSerializerContext;

/// <summary>JSON of function definitions, for the functions created through the API.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(FunctionDefinition))]
internal sealed partial class FunctionDefinitionJsonContext : JsonSerializerContext;
