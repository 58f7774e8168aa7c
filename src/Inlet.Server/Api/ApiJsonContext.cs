using System.Text.Json.Serialization;
using Inlet.Management;
using Inlet.Storage;

namespace Inlet.Api;

internal sealed record HealthResponse(string Status, string? Node = null, string? Problem = null);

internal sealed record ErrorResponse(string Code, string Message);

/// <summary>Lambda's error body (the code travels in <c>x-amzn-ErrorType</c>).</summary>
internal sealed record LambdaError([property: JsonPropertyName("Type")] string Type, [property: JsonPropertyName("message")] string Message);

internal sealed record LambdaThrottleError([property: JsonPropertyName("Type")] string Type, [property: JsonPropertyName("message")] string Message, [property: JsonPropertyName("Reason")] string Reason);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(MessageSummary))]
[JsonSerializable(typeof(MessageDetail))]
[JsonSerializable(typeof(MessageListResponse))]
[JsonSerializable(typeof(ReplayResponse))]
[JsonSerializable(typeof(RuleTestResponse))]
[JsonSerializable(typeof(OutboxResponse))]
[JsonSerializable(typeof(LambdaError))]
[JsonSerializable(typeof(LambdaThrottleError))]
[JsonSerializable(typeof(FunctionListResponse))]
[JsonSerializable(typeof(TopicListResponse))]
[JsonSerializable(typeof(SubscriptionListResponse))]
[JsonSerializable(typeof(DeliveryListResponse))]
[JsonSerializable(typeof(AsyncInvocationListResponse))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
