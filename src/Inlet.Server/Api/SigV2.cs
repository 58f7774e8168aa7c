using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Inlet.Api;

/// <summary>
/// S3's Signature Version 2 query-string authentication — the presigned URLs of older SDKs and of
/// <c>signature_version='s3'</c>: <c>AWSAccessKeyId</c>, <c>Expires</c> (seconds since the epoch) and
/// <c>Signature</c>, the Base64 HMAC-SHA1 of the string to sign under the secret key, as "Signing and
/// authenticating REST requests" specifies
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html#RESTAuthenticationQueryStringAuth).
/// </summary>
internal static class SigV2
{
    /// <summary>
    /// The subresources and response overrides that belong in CanonicalizedResource; every other query parameter
    /// (the signature's own among them) is left out.
    /// </summary>
    private static readonly HashSet<string> s_subresources = new(StringComparer.Ordinal)
    {
        "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy", "requestPayment",
        "restore", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions", "website",
        "response-cache-control", "response-content-disposition", "response-content-encoding", "response-content-language",
        "response-content-type", "response-expires",
    };

    public static bool IsQueryAuth(IReadOnlyDictionary<string, string> query) =>
        query.ContainsKey("AWSAccessKeyId") || (query.ContainsKey("Signature") && query.ContainsKey("Expires"));

    /// <summary>
    /// <c>Verb \n Content-MD5 \n Content-Type \n Expires \n CanonicalizedAmzHeaders CanonicalizedResource</c>; the
    /// resource is <c>/bucket/key</c> as sent, whether the bucket came from the path or the host name.
    /// </summary>
    public static string StringToSign(string method, string? contentMd5, string? contentType, string expires, IEnumerable<KeyValuePair<string, string>> headers, string? virtualBucket, string rawPath, string rawQuery)
    {
        var text = new StringBuilder().Append(method).Append('\n').Append(contentMd5).Append('\n').Append(contentType).Append('\n').Append(expires).Append('\n');
        foreach (var (name, value) in headers.Select(h => (Name: h.Key.ToLowerInvariant(), h.Value)).Where(h => h.Name.StartsWith("x-amz-", StringComparison.Ordinal)).OrderBy(h => h.Name, StringComparer.Ordinal))
        {
            text.Append(name).Append(':').Append(value.Trim()).Append('\n');
        }

        if (virtualBucket is not null)
        {
            text.Append('/').Append(virtualBucket);
        }

        text.Append(rawPath.Length == 0 ? "/" : rawPath);
        var parameters = new List<(string Name, string? Value)>();
        foreach (var part in rawQuery.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=');
            var name = Uri.UnescapeDataString(eq < 0 ? part : part[..eq]);
            if (s_subresources.Contains(name))
            {
                parameters.Add((name, eq < 0 ? null : Uri.UnescapeDataString(part[(eq + 1)..])));
            }
        }

        var separator = '?';
        foreach (var (name, value) in parameters.OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            text.Append(separator).Append(name);
            if (value is not null)
            {
                text.Append('=').Append(value);
            }

            separator = '&';
        }

        return text.ToString();
    }

    public static string Signature(string secret, string stringToSign) =>
        Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(stringToSign)));

    public static bool TryParseExpires(string? value, out DateTimeOffset expires)
    {
        expires = default;
        if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            return false;
        }

        expires = DateTimeOffset.FromUnixTimeSeconds(seconds);
        return true;
    }
}
