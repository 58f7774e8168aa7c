using System.Text.Json;

namespace Inlet.Notifications;

/// <summary>
/// SNS's HTTP/S retry policy (<c>healthyRetryPolicy</c>): immediate retries, then retries at the minimum delay, then
/// back-off from the minimum to the maximum delay, then retries at the maximum delay. The default is SNS's: three
/// retries, 20 seconds apart.
/// </summary>
internal sealed record DeliveryPolicy
{
    public int MinDelayTarget { get; init; } = 20;

    public int MaxDelayTarget { get; init; } = 20;

    public int NumRetries { get; init; } = 3;

    public int NumNoDelayRetries { get; init; }

    public int NumMinDelayRetries { get; init; }

    public int NumMaxDelayRetries { get; init; }

    public string BackoffFunction { get; init; } = "linear";

    public static DeliveryPolicy Default { get; } = new();

    public const string DefaultEffectiveJson = """{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}""";

    /// <summary>Reads a topic policy (<c>{"http":{"defaultHealthyRetryPolicy":…}}</c>) or a subscription one (<c>{"healthyRetryPolicy":…}</c>).</summary>
    public static DeliveryPolicy Parse(string? json, out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(json))
        {
            return Default;
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.TryGetProperty("http", out var http))
            {
                root = http;
            }

            if (!root.TryGetProperty("defaultHealthyRetryPolicy", out var policy) && !root.TryGetProperty("healthyRetryPolicy", out policy))
            {
                return Default;
            }

            int Read(string name, int fallback) => policy.TryGetProperty(name, out var v) && v.TryGetInt32(out var n) ? n : fallback;
            var result = new DeliveryPolicy
            {
                MinDelayTarget = Read("minDelayTarget", 20),
                MaxDelayTarget = Read("maxDelayTarget", 20),
                NumRetries = Read("numRetries", 3),
                NumNoDelayRetries = Read("numNoDelayRetries", 0),
                NumMinDelayRetries = Read("numMinDelayRetries", 0),
                NumMaxDelayRetries = Read("numMaxDelayRetries", 0),
                BackoffFunction = policy.TryGetProperty("backoffFunction", out var f) ? f.GetString() ?? "linear" : "linear",
            };
            error = result.Check();
            return error is null ? result : Default;
        }
        catch (JsonException e)
        {
            error = $"Invalid parameter: DeliveryPolicy: {e.Message}";
            return Default;
        }
    }

    private string? Check()
    {
        if (MinDelayTarget < 1 || MaxDelayTarget < MinDelayTarget || MaxDelayTarget > 3600)
        {
            return "Invalid parameter: DeliveryPolicy: minDelayTarget must be at least 1 and at most maxDelayTarget, which is at most 3600";
        }

        if (NumRetries is < 0 or > 100 || NumNoDelayRetries < 0 || NumMinDelayRetries < 0 || NumMaxDelayRetries < 0
            || NumNoDelayRetries + NumMinDelayRetries + NumMaxDelayRetries > NumRetries)
        {
            return "Invalid parameter: DeliveryPolicy: numRetries must be 0 to 100 and at least the sum of the other retry counts";
        }

        return BackoffFunction is "linear" or "arithmetic" or "geometric" or "exponential"
            ? null
            : "Invalid parameter: DeliveryPolicy: backoffFunction must be linear, arithmetic, geometric or exponential";
    }

    /// <summary>The wait before retry number <paramref name="retry"/> (1-based), or null when no retry is left.</summary>
    public TimeSpan? DelayBefore(int retry)
    {
        if (retry > NumRetries)
        {
            return null;
        }

        if (retry <= NumNoDelayRetries)
        {
            return TimeSpan.Zero;
        }

        if (retry <= NumNoDelayRetries + NumMinDelayRetries)
        {
            return TimeSpan.FromSeconds(MinDelayTarget);
        }

        var backoffCount = NumRetries - NumNoDelayRetries - NumMinDelayRetries - NumMaxDelayRetries;
        var step = retry - NumNoDelayRetries - NumMinDelayRetries;
        if (step > backoffCount || backoffCount <= 1)
        {
            return TimeSpan.FromSeconds(step > backoffCount ? MaxDelayTarget : MinDelayTarget);
        }

        var fraction = (double)(step - 1) / (backoffCount - 1);
        var span = MaxDelayTarget - MinDelayTarget;
        var seconds = BackoffFunction switch
        {
            "geometric" => MinDelayTarget + (span * fraction * fraction),
            "exponential" => MinDelayTarget * Math.Pow((double)MaxDelayTarget / MinDelayTarget, fraction),
            _ => MinDelayTarget + (span * fraction),
        };
        return TimeSpan.FromSeconds(seconds);
    }
}
