using System.Text.Json;
using System.Text.Json.Serialization;

namespace Inlet.Rules;

/// <summary>JSON of the receipt configuration, for the snapshots that messages are evaluated against.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(ReceiptConfiguration))]
internal sealed partial class RulesJsonContext : JsonSerializerContext
{
    public static string Serialize(ReceiptConfiguration configuration) =>
        JsonSerializer.Serialize(configuration with { Version = 0 }, RulesJsonContext.Default.ReceiptConfiguration);

    public static ReceiptConfiguration Deserialize(string json, long version) =>
        (JsonSerializer.Deserialize(json, RulesJsonContext.Default.ReceiptConfiguration) ?? global::Inlet.Rules.ReceiptConfiguration.Empty) with { Version = version };
}
