using System.Net;
using System.Net.NetworkInformation;
using System.Security.Cryptography;
using System.Text;
using Inlet.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace Inlet.Hosting;

/// <summary>
/// The first thing every HTTP request meets. It answers only requests addressed to one of this server's names
/// (a DNS-rebinding page sends its own name as Host: 421), refuses state-changing requests that a foreign page made
/// a browser send (Origin, Sec-Fetch-Site: 403), asks for credentials on Inlet's own surface when the endpoint is
/// reachable from other machines (401), and gives each kind of request a deliberate body limit (413).
/// </summary>
internal sealed partial class HttpAccessMiddleware(RequestDelegate next, InletOptions options, ServerEndpoints listeners, TimeProvider time, ILogger<HttpAccessMiddleware> logger)
{
    private readonly Lazy<HashSet<string>> _names = new(() => AllowedNames(options));
    private readonly bool _credentialsRequired = !IsLoopback(options.Http.Listen) || (options.Http.HttpsListen != "off" && !IsLoopback(options.Http.HttpsListen));

    /// <summary>The SMTP size limit, plus room for the headers SES adds before an S3 action stores a message.</summary>
    private long ObjectBodyLimit => options.Smtp.MaxMessageSize + 1024 * 1024;

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "/";
        if (!IsAllowedHost(request.Host.Host))
        {
            LogMisdirected(logger, request.Host.Value ?? string.Empty, path);
            await WriteAsync(context, StatusCodes.Status421MisdirectedRequest, "MisdirectedRequest",
                $"This server does not answer for the host '{request.Host.Host}'. Use one of its names or addresses, or add the name to Http.AllowedHosts.");
            return;
        }

        var own = IsOwnSurface(request, path);
        if (IsStateChanging(request.Method) && !IsAwsRequest(request) && ForeignOrigin(request) is { } origin)
        {
            LogForeignOrigin(logger, origin, request.Method, path);
            await WriteAsync(context, StatusCodes.Status403Forbidden, "ForeignOrigin",
                $"A {request.Method} from the page of another site ({origin}) is refused: Inlet's API takes state-changing requests from its own pages and from non-browser clients only.");
            return;
        }

        if (own && _credentialsRequired && !await AuthorizedAsync(context))
        {
            if (options.Http.ConsolePassword is not null)
            {
                context.Response.Headers.WWWAuthenticate = "Basic realm=\"Inlet\", charset=\"UTF-8\"";
            }

            await WriteAsync(context, StatusCodes.Status401Unauthorized, "Unauthorized",
                "Http.Listen is reachable from other machines: sign the request with Signature Version 4 (service 'inlet') with one of the configured Credentials, or use HTTP Basic with Http.ConsolePassword.");
            return;
        }

        var limit = BodyLimit(request, path);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = limit;
        }

        if (request.ContentLength > limit)
        {
            await TooLargeAsync(context, path, limit);
            return;
        }

        try
        {
            await next(context);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge && !context.Response.HasStarted)
        {
            context.Response.Clear();
            await TooLargeAsync(context, path, context.Items[HttpLimits.BodyLimitItem] as long? ?? limit);
        }
    }

    private long BodyLimit(HttpRequest request, string path)
    {
        if (path == "/api/rules/test")
        {
            // One more octet than a message may have, so that the endpoint sees the excess and says which limit it is.
            return options.Smtp.MaxMessageSize + 1;
        }

        if (path.StartsWith("/api/", StringComparison.Ordinal))
        {
            return HttpLimits.DefaultBodyLimit;
        }

        if (path == SesV2Endpoints.SendPath)
        {
            return SesV2Endpoints.MaxSendRequestSize;
        }

        if (path == "/2015-03-31/functions" || (path.StartsWith("/2015-03-31/functions/", StringComparison.Ordinal) && path.EndsWith("/code", StringComparison.Ordinal)))
        {
            return HttpLimits.FunctionCodeBodyLimit;
        }

        return AwsAuthenticationMiddleware.RoutedService(request, path) switch
        {
            "query" => HttpLimits.QueryBodyLimit,
            "s3" => ObjectBodyLimit,
            _ => HttpLimits.DefaultBodyLimit,
        };
    }

    private Task TooLargeAsync(HttpContext context, string path, long limit)
    {
        var message = $"The request body is larger than this endpoint takes ({limit} octets)";
        if (path == "/api/rules/test")
        {
            return WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "MessageTooLarge", $"the message is larger than Smtp.MaxMessageSize ({options.Smtp.MaxMessageSize} octets)");
        }

        if (path.StartsWith("/api/", StringComparison.Ordinal))
        {
            return WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "RequestEntityTooLarge", message);
        }

        return AwsAuthenticationMiddleware.RoutedService(context.Request, path) switch
        {
            // S3 answers an object over its limit with EntityTooLarge, a 400.
            "s3" => AwsAuthenticationMiddleware.RefuseAsync(context, AwsProtocol.S3, "EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed object size."),
            "lambda" => AwsAuthenticationMiddleware.RefuseAsync(context, AwsProtocol.Lambda, "RequestEntityTooLargeException", 413, message),
            "sesv2" => AwsAuthenticationMiddleware.RefuseAsync(context, AwsProtocol.SesV2, "RequestEntityTooLargeException", 413, message),
            "logs" => AwsAuthenticationMiddleware.RefuseAsync(context, AwsProtocol.Json, "RequestEntityTooLargeException", 413, message),
            _ => AwsAuthenticationMiddleware.RefuseAsync(context, AwsProtocol.Query, "RequestEntityTooLarge", 413, message),
        };
    }

    /// <summary>
    /// Inlet's own surface: <c>/api/*</c>, and the pages a browser gets (unsigned GETs), but not what must stay open
    /// to machines: <c>/health</c>, <c>/metrics</c>, the SNS signing certificate and the SubscribeURL/UnsubscribeURL.
    /// </summary>
    private static bool IsOwnSurface(HttpRequest request, string path)
    {
        if (path.StartsWith("/api/", StringComparison.Ordinal))
        {
            return true;
        }

        if (!(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) || IsAwsRequest(request))
        {
            return false;
        }

        return path is not ("/health" or "/metrics")
            && !path.StartsWith("/SimpleNotificationService-", StringComparison.Ordinal)
            && !(path == "/" && request.Query["Action"].ToString() is "ConfirmSubscription" or "Unsubscribe");
    }

    private static bool IsAwsRequest(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        return authorization.StartsWith(SigV4.Algorithm, StringComparison.Ordinal)
            || request.Query.ContainsKey("X-Amz-Credential") || request.Query.ContainsKey("AWSAccessKeyId");
    }

    private static bool IsStateChanging(string method) =>
        HttpMethods.IsPost(method) || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method) || HttpMethods.IsPatch(method);

    /// <summary>The foreign origin of a browser request, or null when it came from this server's pages or from no browser.</summary>
    private string? ForeignOrigin(HttpRequest request)
    {
        if (request.Headers["Sec-Fetch-Site"].ToString() == "cross-site")
        {
            return request.Headers.Origin.ToString() is { Length: > 0 } o ? o : "a cross-site page";
        }

        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return null;
        }

        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || !IsAllowedHost(uri.Host) || !ServerPorts().Contains(uri.Port))
        {
            return origin;
        }

        return null;
    }

    private HashSet<int> ServerPorts()
    {
        var ports = new HashSet<int>();
        foreach (var endPoint in new[] { listeners.Http, listeners.Https })
        {
            if (endPoint is not null && IPEndPoint.TryParse(endPoint, out var parsed))
            {
                ports.Add(parsed.Port);
            }
        }

        return ports;
    }

    private async Task<bool> AuthorizedAsync(HttpContext context)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase) && options.Http.ConsolePassword is { } password)
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..].Trim()));
            }
            catch (FormatException)
            {
                return false;
            }

            var given = decoded[(decoded.IndexOf(':') + 1)..];
            return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(password)));
        }

        if (!authorization.StartsWith(SigV4.Algorithm, StringComparison.Ordinal))
        {
            return false;
        }

        var amzDate = context.Request.Headers["X-Amz-Date"].FirstOrDefault() ?? context.Request.Headers.Date.FirstOrDefault();
        var credential = SigV4.ParseAuthorization(authorization, amzDate, out _);
        if (credential is null || credential.Service != HttpLimits.InletService || options.Credentials.FirstOrDefault(k => k.AccessKeyId == credential.AccessKeyId) is not { } key
            || !SigV4.TryParseAmzDate(credential.AmzDate, out var signedAt) || (time.GetUtcNow() - signedAt).Duration() > TimeSpan.FromMinutes(15))
        {
            return false;
        }

        var (expected, _, _, _) = await AwsAuthenticationMiddleware.ComputeSignatureAsync(context, credential, key.SecretAccessKey, presigned: false);
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(credential.Signature));
    }

    /// <summary>A configured name, a subdomain of one (virtual-hosted S3: <c>bucket.localhost</c>), or one of the server's addresses.</summary>
    private bool IsAllowedHost(string host)
    {
        host = host.TrimStart('[').TrimEnd(']').TrimEnd('.').ToLowerInvariant();
        if (host.Length == 0)
        {
            return false;
        }

        if (IPAddress.TryParse(host, out var address))
        {
            return IPAddress.IsLoopback(address) || _names.Value.Contains(address.ToString());
        }

        var names = _names.Value;
        for (var name = host; name.Length > 0; name = name.IndexOf('.') is var dot and >= 0 ? name[(dot + 1)..] : string.Empty)
        {
            if (names.Contains(name))
            {
                return true;
            }
        }

        return false;
    }

    private static HashSet<string> AllowedNames(InletOptions options)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "localhost", options.Smtp.Hostname.ToLowerInvariant() };
        foreach (var name in options.Http.AllowedHosts)
        {
            names.Add(name.TrimStart('*', '.').ToLowerInvariant());
        }

        if (options.Notifications.BaseUrl is { } baseUrl && Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri))
        {
            names.Add(uri.Host.ToLowerInvariant());
        }

        foreach (var listen in new[] { options.Http.Listen, options.Http.HttpsListen })
        {
            if (!ConfigurationLoader.TryParseEndPoint(listen, out var endPoint))
            {
                continue;
            }

            if (endPoint.Address.Equals(IPAddress.Any) || endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                // Every address of the machine, and its name.
                names.Add(Dns.GetHostName().ToLowerInvariant());
                foreach (var unicast in NetworkInterface.GetAllNetworkInterfaces().SelectMany(i => i.GetIPProperties().UnicastAddresses))
                {
                    names.Add(unicast.Address.ToString());
                }
            }
            else
            {
                names.Add(endPoint.Address.ToString());
            }
        }

        return names;
    }

    private static bool IsLoopback(string listen) =>
        ConfigurationLoader.TryParseEndPoint(listen, out var endPoint) && IPAddress.IsLoopback(endPoint.Address);

    private static Task WriteAsync(HttpContext context, int status, string code, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new ErrorResponse(code, message), ApiJsonContext.Default.ErrorResponse);
    }

    [LoggerMessage(EventId = 40, Level = LogLevel.Warning, Message = "Refused a request for host {Host} ({Path}): not one of this server's names (Http.AllowedHosts)")]
    private static partial void LogMisdirected(ILogger logger, string host, string path);

    [LoggerMessage(EventId = 41, Level = LogLevel.Warning, Message = "Refused {Method} {Path} from the foreign origin {Origin}")]
    private static partial void LogForeignOrigin(ILogger logger, string origin, string method, string path);
}
