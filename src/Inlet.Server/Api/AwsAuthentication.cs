using System.Security.Cryptography;
using System.Text;
using Inlet.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Inlet.Api;

/// <summary>Which AWS protocol a request speaks, and so how its errors are written.</summary>
internal enum AwsProtocol
{
    /// <summary>SES and SNS: form posts to <c>/</c>, XML errors.</summary>
    Query,

    /// <summary>Lambda: REST-JSON, the error code in <c>x-amzn-ErrorType</c>.</summary>
    Lambda,

    /// <summary>S3: REST-XML, <c>&lt;Error&gt;</c> documents.</summary>
    S3,

    /// <summary>CloudWatch Logs: AWS JSON 1.1 (<c>X-Amz-Target</c>), errors as <c>{"__type", "message"}</c>.</summary>
    Json,
}

/// <summary>
/// Verifies Signature Version 4 on every AWS request before it reaches its service, against the configured
/// access keys, with the request's own SignedHeaders and the clock skew AWS allows (15 minutes). Refusals carry
/// AWS's codes in each protocol's error shape. Inlet's own endpoints (<c>/api</c>, <c>/health</c>, the SNS signing
/// certificate, <c>/metrics</c>) and the two unsigned SNS URLs (SubscribeURL, UnsubscribeURL) are not AWS requests.
/// </summary>
internal sealed partial class AwsAuthenticationMiddleware(RequestDelegate next, InletOptions options, Inlet.Storage.BlobStores blobs, TimeProvider time, ILogger<AwsAuthenticationMiddleware> logger)
{
    private static readonly TimeSpan s_skew = TimeSpan.FromMinutes(15);

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "/";
        if (path is "/health" or "/metrics" || path.StartsWith("/api/", StringComparison.Ordinal) || path.StartsWith("/SimpleNotificationService-", StringComparison.Ordinal)
            || (path == "/" && HttpMethods.IsGet(request.Method) && request.Query["Action"].ToString() is "ConfirmSubscription" or "Unsubscribe"))
        {
            await next(context);
            return;
        }

        var authorization = request.Headers.Authorization.ToString();
        var query = request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);
        var presigned = authorization.Length == 0 && query.ContainsKey("X-Amz-Credential");
        var protocol = Guess(path, authorization, query);
        if (authorization.Length == 0 && !presigned)
        {
            await RefuseAsync(context, protocol, "MissingAuthenticationToken", 403, "Request is missing Authentication Token");
            return;
        }

        var amzDate = request.Headers["X-Amz-Date"].FirstOrDefault() ?? request.Headers.Date.FirstOrDefault();
        string? error;
        var credential = presigned ? SigV4.ParsePresigned(query, out error) : SigV4.ParseAuthorization(authorization, amzDate, out error);
        if (credential is null)
        {
            await RefuseAsync(context, protocol, "IncompleteSignature", 400, error!);
            return;
        }

        protocol = credential.Service switch
        {
            "s3" => AwsProtocol.S3,
            "lambda" => AwsProtocol.Lambda,
            "logs" => AwsProtocol.Json,
            _ => AwsProtocol.Query,
        };
        var key = options.Credentials.FirstOrDefault(k => k.AccessKeyId == credential.AccessKeyId);
        if (key is null)
        {
            await RefuseAsync(context, protocol, "InvalidClientTokenId", 403, "The security token included in the request is invalid.");
            return;
        }

        if (!SigV4.TryParseAmzDate(credential.AmzDate, out var signedAt))
        {
            await RefuseAsync(context, protocol, "IncompleteSignature", 400, $"Date must be in ISO-8601 'basic format' (yyyyMMdd'T'HHmmss'Z'); got '{credential.AmzDate}'");
            return;
        }

        var now = time.GetUtcNow();
        if (presigned ? now > signedAt.AddSeconds(credential.ExpiresSeconds) : (now - signedAt).Duration() > s_skew)
        {
            var message = presigned
                ? "Request has expired"
                : $"Signature expired: {credential.AmzDate} is now earlier than {now.Add(-s_skew):yyyyMMdd'T'HHmmss'Z'} ({now:yyyyMMdd'T'HHmmss'Z'} - 15 min.)";
            await RefuseAsync(context, protocol, "RequestExpired", 400, message);
            return;
        }

        var payloadHash = await PayloadHashAsync(request, credential, presigned);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in credential.SignedHeaders)
        {
            headers[name] = name == "host" ? request.Host.Value ?? string.Empty : string.Join(",", request.Headers[name].ToArray());
        }

        var raw = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? path + request.QueryString;
        var question = raw.IndexOf('?');
        var sigRequest = new SigV4Request(request.Method, question < 0 ? raw : raw[..question], question < 0 ? string.Empty : raw[(question + 1)..], headers, payloadHash);
        var canonical = SigV4.CanonicalRequest(sigRequest, credential.SignedHeaders, credential.Service, presigned);
        var scope = $"{credential.Date}/{credential.Region}/{credential.Service}/aws4_request";
        var stringToSign = SigV4.StringToSign(credential.AmzDate, scope, canonical);
        var expected = SigV4.Signature(key.SecretAccessKey, credential.Date, credential.Region, credential.Service, stringToSign);
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(credential.Signature)))
        {
            LogSignatureMismatch(logger, credential.AccessKeyId, request.Method, path);
            await RefuseAsync(context, protocol, "SignatureDoesNotMatch", 403,
                $"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{stringToSign}'\n");
            return;
        }

        if (protocol == AwsProtocol.S3 && payloadHash.Length == 64 && request.ContentLength is not 0)
        {
            // The signature covers the declared hash; the body must match it too.
            request.EnableBuffering();
            var actual = SigV4.Hex(await SHA256.HashDataAsync(request.Body, context.RequestAborted));
            request.Body.Position = 0;
            if (actual != payloadHash)
            {
                await RefuseAsync(context, protocol, "XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed.");
                return;
            }
        }

        context.Items[typeof(SigV4Credential)] = credential;
        if (protocol == AwsProtocol.S3)
        {
            // S3's paths are the buckets' own: it is served here rather than by routes.
            await S3Api.HandleAsync(context, blobs, options.AccountId);
            return;
        }

        await next(context);
    }

    /// <summary>Before the scope is known: Lambda's paths, the Query root, or S3 for everything else.</summary>
    private static AwsProtocol Guess(string path, string authorization, IReadOnlyDictionary<string, string> query)
    {
        if (authorization.Contains("/s3/aws4_request", StringComparison.Ordinal) || (query.TryGetValue("X-Amz-Credential", out var c) && c.Contains("/s3/", StringComparison.Ordinal)))
        {
            return AwsProtocol.S3;
        }

        if (authorization.Contains("/logs/aws4_request", StringComparison.Ordinal))
        {
            return AwsProtocol.Json;
        }

        return path.StartsWith("/2015-03-31/", StringComparison.Ordinal) ? AwsProtocol.Lambda
            : path == "/" && !query.ContainsKey("list-type") ? AwsProtocol.Query
            : AwsProtocol.S3;
    }

    private static async Task<string> PayloadHashAsync(HttpRequest request, SigV4Credential credential, bool presigned)
    {
        if (credential.Service == "s3")
        {
            return request.Headers["x-amz-content-sha256"].FirstOrDefault() ?? (presigned ? "UNSIGNED-PAYLOAD" : SigV4.EmptyHash);
        }

        request.EnableBuffering();
        var hash = SigV4.Hex(await SHA256.HashDataAsync(request.Body));
        request.Body.Position = 0;
        return hash;
    }

    internal static Task RefuseAsync(HttpContext context, AwsProtocol protocol, string code, int status, string message)
    {
        var response = context.Response;
        response.StatusCode = status;
        switch (protocol)
        {
            case AwsProtocol.Lambda:
                response.Headers["x-amzn-ErrorType"] = code switch
                {
                    "InvalidClientTokenId" => "UnrecognizedClientException",
                    "SignatureDoesNotMatch" or "RequestExpired" => "InvalidSignatureException",
                    "IncompleteSignature" => "IncompleteSignatureException",
                    "MissingAuthenticationToken" => "MissingAuthenticationTokenException",
                    _ => code,
                };
                return response.WriteAsJsonAsync(new LambdaError("User", message), ApiJsonContext.Default.LambdaError);
            case AwsProtocol.S3:
                var s3Code = code switch
                {
                    "InvalidClientTokenId" => "InvalidAccessKeyId",
                    "IncompleteSignature" => "AuthorizationHeaderMalformed",
                    "RequestExpired" => "RequestTimeTooSkewed",
                    "MissingAuthenticationToken" => "AccessDenied",
                    _ => code,
                };
                if (s3Code == "RequestTimeTooSkewed")
                {
                    response.StatusCode = 403;
                }

                return S3Errors.WriteAsync(context, s3Code, message);
            case AwsProtocol.Json:
                var jsonCode = code switch
                {
                    "InvalidClientTokenId" => "UnrecognizedClientException",
                    "SignatureDoesNotMatch" or "RequestExpired" => "InvalidSignatureException",
                    "IncompleteSignature" => "IncompleteSignatureException",
                    "MissingAuthenticationToken" => "MissingAuthenticationTokenException",
                    _ => code,
                };
                return LogsApi.Error(jsonCode, message, status).ExecuteAsync(context);
            default:
                response.ContentType = "text/xml";
                return response.WriteAsync(QueryXml.ErrorXml(SesQueryNamespace(context), code, message));
        }
    }

    private static string SesQueryNamespace(HttpContext context) =>
        context.Request.Headers.Authorization.ToString().Contains("/sns/aws4_request", StringComparison.Ordinal)
            ? SnsQueryApi.Namespace
            : "http://ses.amazonaws.com/doc/2010-12-01/";

    [LoggerMessage(EventId = 600, Level = LogLevel.Warning, Message = "Signature mismatch for access key {AccessKeyId}: {Method} {Path}")]
    private static partial void LogSignatureMismatch(ILogger logger, string accessKeyId, string method, string path);
}

/// <summary>S3's XML error document.</summary>
internal static class S3Errors
{
    public static Task WriteAsync(HttpContext context, string code, string message, string? resource = null)
    {
        context.Response.ContentType = "application/xml";
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return Task.CompletedTask;
        }

        var xml = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>").Append(System.Security.SecurityElement.Escape(code))
            .Append("</Code><Message>").Append(System.Security.SecurityElement.Escape(message)).Append("</Message>");
        if (resource is not null)
        {
            xml.Append("<Resource>").Append(System.Security.SecurityElement.Escape(resource)).Append("</Resource>");
        }

        xml.Append("<RequestId>").Append(Guid.NewGuid().ToString("N")[..16].ToUpperInvariant()).Append("</RequestId></Error>");
        return context.Response.WriteAsync(xml.ToString());
    }
}
