using System.Globalization;

namespace Inlet.Core;

/// <summary>
/// The time formats of the wire: one place for each, so that SES's mail timestamp, the Query APIs' timestamps and the
/// state store's columns cannot drift apart.
/// </summary>
internal static class WireTime
{
    /// <summary>ISO 8601 in UTC with milliseconds, <c>2024-01-02T03:04:05.678Z</c>: SES's <c>mail.timestamp</c>, SNS's <c>Timestamp</c>, the AWS Query APIs.</summary>
    public const string IsoMillisecondsFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    /// <summary>SigV4's <c>X-Amz-Date</c>, <c>20240102T030405Z</c>.</summary>
    public const string AmzDateFormat = "yyyyMMdd'T'HHmmss'Z'";

    /// <summary>Lambda's <c>LastModified</c>, <c>2024-01-02T03:04:05.678+0000</c>.</summary>
    public const string LambdaFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'+0000'";

    public static string IsoMilliseconds(DateTimeOffset time) => time.UtcDateTime.ToString(IsoMillisecondsFormat, CultureInfo.InvariantCulture);
}
