using Microsoft.AspNetCore.Http;

namespace Inlet.Api;

/// <summary>
/// Which AWS operation a verified request asks for, read from its protocol's own signs (S3's method, path and
/// query; the Query protocol's <c>Action</c>; REST paths; JSON protocols' <c>X-Amz-Target</c>), with the resource
/// it names. It decides what a function's credentials may do and is how a function's calls appear in a trace.
/// </summary>
internal sealed record AwsOperation(string Service, string Name, string? Resource)
{
    /// <summary>Where an API can add what a call produced ("→ outbox 0100…"), for the trace of the function that made it.</summary>
    public const string OutcomeItem = "Inlet.AwsCallOutcome";

    public static async Task<AwsOperation> IdentifyAsync(HttpContext context, string service)
    {
        var request = context.Request;
        switch (service)
        {
            case "s3":
                return S3(request);
            case "lambda":
                return Lambda(request);
            default:
                if (request.Headers["X-Amz-Target"].FirstOrDefault() is { Length: > 0 } target)
                {
                    return new AwsOperation(service, target[(target.LastIndexOf('.') + 1)..], null);
                }

                if (request.Path.StartsWithSegments("/v2/email", StringComparison.Ordinal))
                {
                    return SesV2(request);
                }

                var action = request.Query["Action"].FirstOrDefault();
                if (action is null && request.HasFormContentType)
                {
                    // The body was buffered for the signature check; the form is read once and cached.
                    var form = await request.ReadFormAsync(context.RequestAborted);
                    action = form["Action"].FirstOrDefault();
                    var resource = form["TopicArn"].FirstOrDefault() ?? form["Source"].FirstOrDefault() ?? form["OriginalMessageId"].FirstOrDefault();
                    request.Body.Position = 0;
                    return new AwsOperation(service, action ?? "Unknown", resource);
                }

                return new AwsOperation(service, action ?? "Unknown", null);
        }
    }

    private static AwsOperation S3(HttpRequest request)
    {
        var (bucket, key) = S3Api.Target(request);
        var method = request.Method;
        var query = request.Query;
        string name;
        if (bucket is null)
        {
            name = "ListBuckets";
        }
        else if (key is null)
        {
            name = query.ContainsKey("policy") ? method switch { "PUT" => "PutBucketPolicy", "DELETE" => "DeleteBucketPolicy", _ => "GetBucketPolicy" }
                : query.ContainsKey("location") && method == "GET" ? "GetBucketLocation"
                : method switch { "PUT" => "CreateBucket", "DELETE" => "DeleteBucket", "HEAD" => "HeadBucket", _ => "ListObjectsV2" };
        }
        else
        {
            name = method switch
            {
                "PUT" when request.Headers.ContainsKey("x-amz-copy-source") => "CopyObject",
                "PUT" => "PutObject",
                "HEAD" => "HeadObject",
                "DELETE" => "DeleteObject",
                _ => "GetObject",
            };
        }

        return new AwsOperation("s3", name, bucket is null ? null : key is null ? bucket : $"{bucket}/{key}");
    }

    private static AwsOperation Lambda(HttpRequest request)
    {
        var segments = (request.Path.Value ?? "/").Split('/', StringSplitOptions.RemoveEmptyEntries);
        var function = segments.Length > 2 && segments[1] == "functions" ? Uri.UnescapeDataString(segments[2]) : null;
        var name = (request.Method, segments.Length > 3 ? segments[3] : null) switch
        {
            ("POST", "invocations") => "Invoke",
            ("GET", null) when function is not null => "GetFunction",
            ("GET", null) => "ListFunctions",
            ("POST", null) => "CreateFunction",
            ("DELETE", null) => "DeleteFunction",
            ("PUT", "code") => "UpdateFunctionCode",
            ("PUT", "configuration") => "UpdateFunctionConfiguration",
            ("GET", "configuration") => "GetFunctionConfiguration",
            (_, var rest) => $"{request.Method} {rest}",
        };
        return new AwsOperation("lambda", name, function);
    }

    private static AwsOperation SesV2(HttpRequest request)
    {
        var segments = (request.Path.Value ?? "/").Split('/', StringSplitOptions.RemoveEmptyEntries);
        var resource = segments.Length > 3 ? Uri.UnescapeDataString(segments[3]) : null;
        var name = (request.Method, segments.Length > 2 ? segments[2] : null) switch
        {
            ("POST", "outbound-emails") => "SendEmail",
            ("POST", "identities") => "CreateEmailIdentity",
            ("GET", "identities") when resource is not null => "GetEmailIdentity",
            ("GET", "identities") => "ListEmailIdentities",
            ("DELETE", "identities") => "DeleteEmailIdentity",
            (var method, var what) => $"{method} {what}",
        };
        return new AwsOperation("ses", name, resource);
    }

    /// <summary>How a call reads in a trace: <c>GetObject mail/inbox/abc 200</c>, <c>SendRawEmail 200 → outbox …</c>.</summary>
    public string Describe(int status, string? outcome) =>
        string.Join(' ', new[] { Name, Resource, status.ToString(System.Globalization.CultureInfo.InvariantCulture), outcome is null ? null : "→ " + outcome }.Where(p => p is not null));
}

/// <summary>
/// What a function's temporary credentials may do. <c>DataPlane</c> (the default) allows what a receiving
/// function needs — S3 objects, SES sending, SNS Publish, Lambda Invoke, CloudWatch Logs, GetCallerIdentity — and
/// refuses management (rule sets, identities, topics, functions, buckets); <c>All</c> allows everything.
/// </summary>
internal static class FunctionPermissions
{
    private static readonly HashSet<string> s_allowed = new(StringComparer.Ordinal)
    {
        "s3:GetObject", "s3:HeadObject", "s3:PutObject", "s3:CopyObject", "s3:DeleteObject", "s3:ListObjectsV2", "s3:HeadBucket", "s3:GetBucketLocation", "s3:ListBuckets",
        "ses:SendEmail", "ses:SendRawEmail", "ses:SendBounce", "ses:SendTemplatedEmail", "ses:GetIdentityVerificationAttributes", "ses:ListIdentities",
        "ses:GetEmailIdentity", "ses:ListEmailIdentities",
        "sns:Publish",
        "lambda:Invoke",
        "sts:GetCallerIdentity",
    };

    /// <summary>Whether the operation is allowed; <paramref name="unrestricted"/> is the scope <c>All</c>.</summary>
    public static bool Allows(AwsOperation operation, bool unrestricted) =>
        unrestricted || operation.Service == "logs" || s_allowed.Contains($"{operation.Service}:{operation.Name}");
}
