using System.Security.Cryptography;
using System.Text;
using Inlet.Management;
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

    /// <summary>SESv2: REST-JSON under <c>/v2/email/</c>, the error code in <c>x-amzn-ErrorType</c>.</summary>
    SesV2,
    /// <summary>CloudWatch Logs: AWS JSON 1.1 (<c>X-Amz-Target</c>), errors as <c>{"__type", "message"}</c>.</summary>
    Json,
}

/// <summary>
/// Verifies Signature Version 4 on every AWS request before it reaches its service, against the configured
/// access keys, with the request's own SignedHeaders and the clock skew AWS allows (15 minutes). Refusals carry
/// AWS's codes in each protocol's error shape. Inlet's own endpoints (<c>/api</c>, <c>/health</c>, the SNS signing
/// certificate, <c>/metrics</c>) and the two unsigned SNS URLs (SubscribeURL, UnsubscribeURL) are not AWS requests.
/// </summary>
internal sealed partial class AwsAuthenticationMiddleware(RequestDelegate next, AwsAccount options, FunctionsService functions, Inlet.Storage.BlobStores blobs, TimeProvider time, ILogger<AwsAuthenticationMiddleware> logger)
{
    /// <summary>The function whose temporary credentials signed the request, when one did.</summary>
    public const string PrincipalItem = "Inlet.FunctionPrincipal";

    private static readonly TimeSpan s_skew = TimeSpan.FromMinutes(15);

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "/";
        if (HomePage.IsDocument(request))
        {
            await HomePage.WriteDocumentAsync(context);
            return;
        }

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
        if (authorization.Length == 0 && !presigned && SigV2.IsQueryAuth(query))
        {
            await AuthenticateSigV2Async(context, query);
            return;
        }

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
            await RefuseAsync(context, protocol, presigned ? "AuthorizationQueryParametersError" : "IncompleteSignature", 400, error!);
            return;
        }

        // The service is the one the request is routed to, whatever its credential names; a credential scoped to
        // another service or region is refused, as AWS refuses it.
        var routed = RoutedService(request, path);
        protocol = routed switch
        {
            "s3" => AwsProtocol.S3,
            "lambda" => AwsProtocol.Lambda,
            "sesv2" => AwsProtocol.SesV2,
            "logs" => AwsProtocol.Json,
            _ => AwsProtocol.Query,
        };
        if (ScopeProblem(credential, routed == "sesv2" ? "ses" : routed, options.Region, protocol, presigned) is { } scopeProblem)
        {
            await RefuseAsync(context, protocol, scopeProblem.Code, scopeProblem.Status, scopeProblem.Message);
            return;
        }
        var secret = options.Credentials.FirstOrDefault(k => k.AccessKeyId == credential.AccessKeyId)?.SecretAccessKey;
        FunctionCaller? principal = null;
        if (secret is null)
        {
            // A function's temporary credentials: the session token must come with them, as STS requires.
            principal = functions.FindCaller(credential.AccessKeyId);
            var token = request.Headers["X-Amz-Security-Token"].FirstOrDefault() ?? (query.TryGetValue("X-Amz-Security-Token", out var t) ? t : null);
            if (principal is null || token is null || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(token), Encoding.ASCII.GetBytes(principal.SessionToken)))
            {
                await RefuseAsync(context, protocol, "InvalidClientTokenId", 403, "The security token included in the request is invalid.");
                return;
            }

            if (principal.IsExpired)
            {
                await RefuseAsync(context, protocol, "ExpiredToken", 400, "The security token included in the request is expired");
                return;
            }

            secret = principal.SecretAccessKey;
        }

        if (!SigV4.TryParseAmzDate(credential.AmzDate, out var signedAt))
        {
            await RefuseAsync(context, protocol, "IncompleteSignature", 400, $"Date must be in ISO-8601 'basic format' (yyyyMMdd'T'HHmmss'Z'); got '{credential.AmzDate}'");
            return;
        }

        var now = time.GetUtcNow();
        if (presigned)
        {
            // A presigned URL is good from its X-Amz-Date (less the clock skew) for X-Amz-Expires seconds; S3 refuses
            // one outside that with AccessDenied, not RequestTimeTooSkewed
            // (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
            var refusal = signedAt - now > s_skew ? "Request is not valid yet"
                : now > signedAt.AddSeconds(credential.ExpiresSeconds) ? "Request has expired"
                : null;
            if (refusal is not null)
            {
                await RefuseAsync(context, protocol, protocol == AwsProtocol.S3 ? "AccessDenied" : "RequestExpired", protocol == AwsProtocol.S3 ? 403 : 400, refusal);
                return;
            }
        }
        else if ((now - signedAt).Duration() > s_skew)
        {
            await RefuseAsync(context, protocol, "RequestExpired", 400, $"Signature expired: {credential.AmzDate} is now earlier than {now.Add(-s_skew):yyyyMMdd'T'HHmmss'Z'} ({now:yyyyMMdd'T'HHmmss'Z'} - 15 min.)");
            return;
        }

        var (expected, canonical, stringToSign, payloadHash) = await ComputeSignatureAsync(context, credential, secret, presigned);
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

        if (protocol == AwsProtocol.Query)
        {
            // The Query protocol names its service in the form (Version, Action): read once, checked, kept for the endpoint.
            QueryRequest form;
            try
            {
                form = await QueryRequest.ReadAsync(request, context.RequestAborted);
            }
            catch (QueryRequestException e)
            {
                await RefuseAsync(context, protocol, e.Code, 400, e.Message);
                return;
            }

            context.Items[typeof(QueryRequest)] = form;
            if (QueryEndpoint.ServiceOf(form) is { } service && ScopeProblem(credential, service, options.Region, protocol, presigned) is { } problem)
            {
                await RefuseAsync(context, protocol, problem.Code, problem.Status, problem.Message);
                return;
            }
        }

        context.Items[typeof(SigV4Credential)] = credential;
        AwsOperation? operation = null;
        if (principal is not null)
        {
            context.Items[PrincipalItem] = principal;
            operation = await AwsOperation.IdentifyAsync(context, credential.Service);
            if (!FunctionPermissions.Allows(operation, functions.CallersMayUseEverything))
            {
                LogFunctionDenied(logger, principal.FunctionName, $"{operation.Service}:{operation.Name}");
                principal.RecordCall(operation.Describe(403, "AccessDenied"));
                await RefuseAsync(context, protocol, "AccessDenied", 403,
                    $"User: {principal.AssumedRoleArn} is not authorized to perform: {operation.Service}:{operation.Name} (function credentials are limited to the data plane; FunctionSettings.CredentialScope)");
                return;
            }
        }

        try
        {
            if (protocol == AwsProtocol.S3)
            {
                // S3's paths are the buckets' own: it is served here rather than by routes.
                await S3Api.HandleAsync(context, blobs, options.AccountId, options.Region);
                return;
            }

            await next(context);
        }
        finally
        {
            // A call made with a function's credentials during an invocation belongs to that invocation's trace.
            if (principal is not null && operation is not null)
            {
                principal.RecordCall(operation.Describe(context.Response.StatusCode, context.Items[AwsOperation.OutcomeItem] as string));
            }
        }
    }

    /// <summary>
    /// An S3 presigned URL of Signature Version 2 (<c>AWSAccessKeyId</c>, <c>Expires</c>, <c>Signature</c>), taken for
    /// GET and HEAD of objects only: that is what such URLs are handed out for, and everything else must use SigV4.
    /// </summary>
    private async Task AuthenticateSigV2Async(HttpContext context, IReadOnlyDictionary<string, string> query)
    {
        var request = context.Request;
        if (!query.TryGetValue("AWSAccessKeyId", out var accessKeyId) || !query.TryGetValue("Signature", out var signature) || !query.TryGetValue("Expires", out var expiresText))
        {
            await RefuseAsync(context, AwsProtocol.S3, "AccessDenied", 403, "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters");
            return;
        }

        if (!SigV2.TryParseExpires(expiresText, out var expires))
        {
            await RefuseAsync(context, AwsProtocol.S3, "AccessDenied", 403, $"Invalid date (should be seconds since epoch): {expiresText}");
            return;
        }

        var (_, key) = S3Api.Target(request);
        if (key is null || !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)))
        {
            await RefuseAsync(context, AwsProtocol.S3, "InvalidRequest", 400, "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.");
            return;
        }

        var credential = options.Credentials.FirstOrDefault(k => k.AccessKeyId == accessKeyId);
        if (credential is null)
        {
            await RefuseAsync(context, AwsProtocol.S3, "InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records.");
            return;
        }

        if (time.GetUtcNow() > expires)
        {
            await RefuseAsync(context, AwsProtocol.S3, "AccessDenied", 403, "Request has expired");
            return;
        }

        var raw = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? request.Path.Value + request.QueryString;
        var question = raw.IndexOf('?');
        var headers = request.Headers.Select(h => new KeyValuePair<string, string>(h.Key, string.Join(",", h.Value.ToArray())));
        var stringToSign = SigV2.StringToSign(request.Method, request.Headers["Content-MD5"].FirstOrDefault(), request.ContentType, expiresText, headers,
            S3Api.VirtualBucket(request), question < 0 ? raw : raw[..question], question < 0 ? string.Empty : raw[(question + 1)..]);
        var expected = SigV2.Signature(credential.SecretAccessKey, stringToSign);
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(signature)))
        {
            LogSignatureMismatch(logger, accessKeyId, request.Method, request.Path.Value ?? "/");
            await RefuseAsync(context, AwsProtocol.S3, "SignatureDoesNotMatch", 403,
                $"The request signature we calculated does not match the signature you provided. Check your key and signing method. The String-to-Sign should have been\n'{stringToSign}'");
            return;
        }

        await S3Api.HandleAsync(context, blobs, options.AccountId, options.Region);
    }

    /// <summary>
    /// The service a request is routed to: Lambda's and SESv2's paths, CloudWatch Logs by <c>X-Amz-Target</c>, the
    /// Query protocol at <c>/</c> (a form post or an <c>Action</c>; its service is read from the form later), and S3
    /// for everything else.
    /// </summary>
    internal static string RoutedService(HttpRequest request, string path)
    {
        if (path.StartsWith("/2015-03-31/", StringComparison.Ordinal) || path.StartsWith("/2019-09-25/", StringComparison.Ordinal))
        {
            return "lambda";
        }

        if (path.StartsWith("/v2/email/", StringComparison.Ordinal))
        {
            return "sesv2";
        }

        if (path == "/" && request.Headers["X-Amz-Target"].ToString().StartsWith(LogsApi.TargetPrefix, StringComparison.Ordinal))
        {
            return "logs";
        }

        return path == "/" && (request.HasFormContentType || request.Query.ContainsKey("Action")) ? "query" : "s3";
    }

    internal sealed record Refusal(string Code, int Status, string Message);

    /// <summary>
    /// The credential's scope must name the configured region and the service the request went to
    /// (STS, being global, is also signed for us-east-1). Null when it does.
    /// </summary>
    internal static Refusal? ScopeProblem(SigV4Credential credential, string service, string region, AwsProtocol protocol, bool presigned)
    {
        if (service == "query")
        {
            return null;
        }

        var regionOk = credential.Region == region || (service == "sts" && credential.Region == "us-east-1");
        if (protocol == AwsProtocol.S3)
        {
            var (code, lead) = presigned
                ? ("AuthorizationQueryParametersError", "Error parsing the X-Amz-Credential parameter;")
                : ("AuthorizationHeaderMalformed", "The authorization header is malformed;");
            return !regionOk ? new Refusal(code, 400, $"{lead} the region '{credential.Region}' is wrong; expecting '{region}'")
                : credential.Service != service ? new Refusal(code, 400, $"{lead} incorrect service '{credential.Service}'. This endpoint belongs to '{service}'.")
                : null;
        }

        return !regionOk ? new Refusal("SignatureDoesNotMatch", 403, $"Credential should be scoped to a valid region, not '{credential.Region}'. ")
            : credential.Service != service ? new Refusal("SignatureDoesNotMatch", 403, $"Credential should be scoped to correct service: '{service}'. ")
            : null;
    }

    /// <summary>The signature the request should carry under <paramref name="secret"/>, with what it was computed from.</summary>
    internal static async Task<(string Expected, string Canonical, string StringToSign, string PayloadHash)> ComputeSignatureAsync(HttpContext context, SigV4Credential credential, string secret, bool presigned)
    {
        var request = context.Request;
        var payloadHash = await PayloadHashAsync(request, credential, presigned);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in credential.SignedHeaders)
        {
            headers[name] = name == "host" ? request.Host.Value ?? string.Empty : string.Join(",", request.Headers[name].ToArray());
        }

        var raw = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? request.Path.Value + request.QueryString;
        var question = raw.IndexOf('?');
        var sigRequest = new SigV4Request(request.Method, question < 0 ? raw : raw[..question], question < 0 ? string.Empty : raw[(question + 1)..], headers, payloadHash);
        var canonical = SigV4.CanonicalRequest(sigRequest, credential.SignedHeaders, credential.Service, presigned);
        var scope = $"{credential.Date}/{credential.Region}/{credential.Service}/aws4_request";
        var stringToSign = SigV4.StringToSign(credential.AmzDate, scope, canonical);
        return (SigV4.Signature(secret, credential.Date, credential.Region, credential.Service, stringToSign), canonical, stringToSign, payloadHash);
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
            : path.StartsWith("/v2/email/", StringComparison.Ordinal) ? AwsProtocol.SesV2
            : path == "/" && !query.ContainsKey("list-type") ? AwsProtocol.Query
            : AwsProtocol.S3;
    }

    private static async Task<string> PayloadHashAsync(HttpRequest request, SigV4Credential credential, bool presigned)
    {
        if (credential.Service == "s3")
        {
            return request.Headers["x-amz-content-sha256"].FirstOrDefault() ?? (presigned ? "UNSIGNED-PAYLOAD" : SigV4.EmptyHash);
        }

        // The body is part of the signature here, so it is read (and kept for the endpoint) before the check; its
        // size was capped before (HttpAccessMiddleware), and a Query form that does not carry a message is held to
        // the smaller cap as it streams.
        request.EnableBuffering(bufferThreshold: 64 * 1024);
        var query = request.Path.Value == "/" && request.HasFormContentType;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            var start = new List<byte>();
            var decided = !query;
            var limit = long.MaxValue;
            long total = 0;
            int read;
            while ((read = await request.Body.ReadAsync(buffer, request.HttpContext.RequestAborted)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                total += read;
                if (!decided)
                {
                    start.AddRange(buffer.AsSpan(0, Math.Min(read, QueryActionWindow - start.Count)));
                    if (start.Count >= QueryActionWindow)
                    {
                        decided = true;
                        limit = CarriesMessage(request, start) ? long.MaxValue : HttpLimits.QueryFormBodyLimit;
                    }
                }

                if (total > limit)
                {
                    request.HttpContext.Items[HttpLimits.BodyLimitItem] = limit;
                    throw new BadHttpRequestException("The request body is too large", StatusCodes.Status413PayloadTooLarge);
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        request.Body.Position = 0;
        return SigV4.Hex(hash.GetHashAndReset());
    }

    /// <summary>How much of a Query form is looked at for its Action: the SDKs write Action first.</summary>
    private const int QueryActionWindow = 4096;

    private static readonly string[] s_messageActions = ["SendRawEmail", "SendEmail"];

    /// <summary>Whether a Query form is one of the actions that carry a whole message (its Action in the query string or near the start of the body).</summary>
    private static bool CarriesMessage(HttpRequest request, List<byte> start)
    {
        var action = request.Query["Action"].ToString();
        if (action.Length == 0)
        {
            var text = "&" + Encoding.ASCII.GetString(start.ToArray());
            var at = text.IndexOf("&Action=", StringComparison.Ordinal);
            if (at < 0)
            {
                return false;
            }

            var value = text[(at + "&Action=".Length)..];
            action = value.IndexOf('&') is var amp and >= 0 ? value[..amp] : value;
        }

        return s_messageActions.Contains(action, StringComparer.Ordinal);
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
                    "AccessDenied" => "AccessDeniedException",
                    "ExpiredToken" => "ExpiredTokenException",
                    "MissingAuthenticationToken" => "MissingAuthenticationTokenException",
                    _ => code,
                };
                return response.WriteAsJsonAsync(new LambdaError("User", message), ApiJsonContext.Default.LambdaError);
            case AwsProtocol.SesV2:
                return SesV2Endpoints.Error(status, code switch
                {
                    "InvalidClientTokenId" => "UnrecognizedClientException",
                    "SignatureDoesNotMatch" or "RequestExpired" => "InvalidSignatureException",
                    "IncompleteSignature" => "IncompleteSignatureException",
                    "MissingAuthenticationToken" => "MissingAuthenticationTokenException",
                    _ => code,
                }, message).ExecuteAsync(context);
            case AwsProtocol.S3:
                var s3Code = code switch
                {
                    "InvalidClientTokenId" => "InvalidAccessKeyId",
                    "IncompleteSignature" => "AuthorizationHeaderMalformed",
                    "RequestExpired" => "RequestTimeTooSkewed",
                    "MissingAuthenticationToken" => "AccessDenied",
                    "ExpiredToken" => "ExpiredToken",
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

    [LoggerMessage(EventId = 601, Level = LogLevel.Information, Message = "Function {Function} was refused {Operation}: outside its credential scope")]
    private static partial void LogFunctionDenied(ILogger logger, string function, string operation);

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
