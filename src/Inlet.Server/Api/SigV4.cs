using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Inlet.Api;

/// <summary>A request as Signature Version 4 sees it: method, the raw path and query, headers, the payload hash.</summary>
internal sealed record SigV4Request(string Method, string RawPath, string RawQuery, IReadOnlyDictionary<string, string> Headers, string PayloadHash);

/// <summary>The parsed <c>Authorization</c> header (or presigned query) of a SigV4 request.</summary>
internal sealed record SigV4Credential(string AccessKeyId, string Date, string Region, string Service, IReadOnlyList<string> SignedHeaders, string Signature, string AmzDate, bool Presigned, int ExpiresSeconds);

/// <summary>
/// AWS Signature Version 4: the canonical request, the string to sign and the HMAC key chain, for verifying
/// what clients send and for signing Inlet's own CLI requests. Canonical URIs are encoded twice except for S3,
/// which signs the path as sent, as AWS specifies.
/// </summary>
internal static class SigV4
{
    public const string Algorithm = "AWS4-HMAC-SHA256";

    /// <summary>Seven days: the longest a SigV4 presigned URL may be valid.</summary>
    public const int MaxPresignedExpires = 604800;
    public static readonly string EmptyHash = Hex(SHA256.HashData([]));

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes).ToLowerInvariant();

    public static string HashHex(ReadOnlySpan<byte> bytes) => Hex(SHA256.HashData(bytes));

    /// <summary>Parses <c>AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…</c>; null with a reason when malformed.</summary>
    public static SigV4Credential? ParseAuthorization(string header, string? amzDate, out string? error)
    {
        error = null;
        if (!header.StartsWith(Algorithm + " ", StringComparison.Ordinal))
        {
            error = $"Unsupported authorization type: only {Algorithm} (Signature Version 4) is accepted";
            return null;
        }

        var parts = header[(Algorithm.Length + 1)..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var name in new[] { "Credential", "SignedHeaders", "Signature" })
        {
            if (!parts.ContainsKey(name))
            {
                missing.Add($"Authorization header requires '{name}' parameter.");
            }
        }

        if (amzDate is null)
        {
            missing.Add("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
        }

        if (missing.Count > 0)
        {
            error = string.Join(' ', missing) + " Authorization=" + header;
            return null;
        }

        return Build(parts["Credential"], parts["SignedHeaders"], parts["Signature"], amzDate!, presigned: false, 0, out error);
    }

    /// <summary>A presigned URL's <c>X-Amz-*</c> query parameters.</summary>
    public static SigV4Credential? ParsePresigned(IReadOnlyDictionary<string, string> query, out string? error)
    {
        error = null;
        string? Get(string name) => query.TryGetValue(name, out var v) ? v : null;
        if (Get("X-Amz-Algorithm") != Algorithm || Get("X-Amz-Credential") is not { } credential || Get("X-Amz-SignedHeaders") is not { } signed
            || Get("X-Amz-Signature") is not { } signature || Get("X-Amz-Date") is not { } date)
        {
            error = "Query-string authentication requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date and X-Amz-SignedHeaders parameters";
            return null;
        }

        // S3's own checks and words (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html:
        // "The minimum value you can set is 1, and the maximum is 604800 (seven days)").
        var text = Get("X-Amz-Expires");
        if (text is null)
        {
            error = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";
            return null;
        }

        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var expires))
        {
            error = "X-Amz-Expires should be a number";
            return null;
        }

        if (expires < 0)
        {
            error = "X-Amz-Expires must be non-negative";
            return null;
        }

        if (expires > MaxPresignedExpires)
        {
            error = $"X-Amz-Expires must be less than a week (in seconds) that is {MaxPresignedExpires}";
            return null;
        }

        return Build(credential, signed, signature, date, presigned: true, (int)expires, out error);
    }

    private static SigV4Credential? Build(string credential, string signedHeaders, string signature, string amzDate, bool presigned, int expires, out string? error)
    {
        error = null;
        var scope = credential.Split('/');
        if (scope.Length != 5 || scope[4] != "aws4_request" || scope[1].Length != 8)
        {
            error = $"Credential should be scoped to a valid region, a service and aws4_request: {credential}";
            return null;
        }

        return new SigV4Credential(scope[0], scope[1], scope[2], scope[3], signedHeaders.Split(';'), signature, amzDate, presigned, expires);
    }

    public static bool TryParseAmzDate(string value, out DateTimeOffset time) =>
        DateTimeOffset.TryParseExact(value, WireTime.AmzDateFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time)
        || DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time);

    public static string CanonicalRequest(SigV4Request request, IReadOnlyList<string> signedHeaders, string service, bool presigned)
    {
        var uri = service == "s3" ? (request.RawPath.Length == 0 ? "/" : request.RawPath) : Encode(NormalizePath(request.RawPath), keepSlash: true);
        var headers = new StringBuilder();
        foreach (var name in signedHeaders)
        {
            var value = request.Headers.TryGetValue(name, out var v) ? v : string.Empty;
            headers.Append(name).Append(':').Append(CollapseSpaces(value.Trim())).Append('\n');
        }

        return string.Join('\n', request.Method, uri, CanonicalQuery(request.RawQuery, presigned), headers.ToString(), string.Join(';', signedHeaders), request.PayloadHash);
    }

    public static string StringToSign(string amzDate, string scope, string canonicalRequest) =>
        $"{Algorithm}\n{amzDate}\n{scope}\n{HashHex(Encoding.UTF8.GetBytes(canonicalRequest))}";

    public static string Signature(string secret, string date, string region, string service, string stringToSign)
    {
        var key = Hmac(Encoding.UTF8.GetBytes("AWS4" + secret), date);
        key = Hmac(key, region);
        key = Hmac(key, service);
        key = Hmac(key, "aws4_request");
        return Hex(Hmac(key, stringToSign));
    }

    private static byte[] Hmac(byte[] key, string data) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(data));

    /// <summary>Names and values URI-encoded, sorted by name then value; the signature itself is left out of a presigned URL.</summary>
    private static string CanonicalQuery(string rawQuery, bool presigned)
    {
        if (rawQuery.Length == 0)
        {
            return string.Empty;
        }

        var pairs = new List<(string Name, string Value)>();
        foreach (var part in rawQuery.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=');
            var name = Uri.UnescapeDataString((eq < 0 ? part : part[..eq]).Replace('+', ' '));
            var value = eq < 0 ? string.Empty : Uri.UnescapeDataString(part[(eq + 1)..].Replace('+', ' '));
            if (presigned && name == "X-Amz-Signature")
            {
                continue;
            }

            pairs.Add((Encode(name, keepSlash: false), Encode(value, keepSlash: false)));
        }

        return string.Join('&', pairs.OrderBy(p => p.Name, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal).Select(p => $"{p.Name}={p.Value}"));
    }

    /// <summary>RFC 3986 encoding with AWS's unreserved set (A-Z a-z 0-9 - _ . ~).</summary>
    public static string Encode(string text, bool keepSlash)
    {
        var result = new StringBuilder(text.Length);
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~' || (keepSlash && c == '/'))
            {
                result.Append(c);
            }
            else
            {
                result.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return result.ToString();
    }

    private static string NormalizePath(string path)
    {
        if (path.Length == 0)
        {
            return "/";
        }

        var segments = new List<string>();
        foreach (var segment in path.Split('/'))
        {
            if (segment == "..")
            {
                if (segments.Count > 0)
                {
                    segments.RemoveAt(segments.Count - 1);
                }
            }
            else if (segment is not ("." or ""))
            {
                segments.Add(segment);
            }
        }

        var normalized = "/" + string.Join('/', segments);
        return path.EndsWith('/') && normalized != "/" ? normalized + "/" : normalized;
    }

    private static string CollapseSpaces(string value)
    {
        var result = new StringBuilder(value.Length);
        var space = false;
        foreach (var c in value)
        {
            if (c == ' ')
            {
                if (!space)
                {
                    result.Append(c);
                }

                space = true;
            }
            else
            {
                result.Append(c);
                space = false;
            }
        }

        return result.ToString();
    }

    /// <summary>Signs a request for Inlet's own clients (the CLI, the tests): returns the headers to add.</summary>
    public static Dictionary<string, string> Sign(string method, Uri uri, IReadOnlyDictionary<string, string> headers, byte[] body, string accessKey, string secret, string region, string service, DateTimeOffset now)
    {
        var amzDate = now.UtcDateTime.ToString(WireTime.AmzDateFormat, CultureInfo.InvariantCulture);
        var date = amzDate[..8];
        var all = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["host"] = uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port}",
            ["x-amz-date"] = amzDate,
        };
        foreach (var (name, value) in headers)
        {
            all[name.ToLowerInvariant()] = value;
        }

        var payloadHash = HashHex(body);
        if (service == "s3")
        {
            all["x-amz-content-sha256"] = payloadHash;
        }

        var signed = all.Keys.ToList();
        var request = new SigV4Request(method, uri.AbsolutePath, uri.Query.TrimStart('?'), all, payloadHash);
        var scope = $"{date}/{region}/{service}/aws4_request";
        var signature = Signature(secret, date, region, service, StringToSign(amzDate, scope, CanonicalRequest(request, signed, service, presigned: false)));
        var result = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["X-Amz-Date"] = amzDate,
            ["Authorization"] = $"{Algorithm} Credential={accessKey}/{scope}, SignedHeaders={string.Join(';', signed)}, Signature={signature}",
        };
        if (service == "s3")
        {
            result["x-amz-content-sha256"] = payloadHash;
        }

        return result;
    }
}
