using System.Text.Json.Serialization;

namespace Inlet.Functions;

internal sealed record RuntimeStatusResponse([property: JsonPropertyName("status")] string Status);

[JsonSerializable(typeof(FunctionErrorPayload))]
[JsonSerializable(typeof(RuntimeStatusResponse))]
internal sealed partial class FunctionsJsonContext : JsonSerializerContext;
