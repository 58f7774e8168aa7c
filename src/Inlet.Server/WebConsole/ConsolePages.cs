using System.Collections.Frozen;
using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Inlet.Api;
using Inlet.Management;
using Inlet.Storage;
using Microsoft.AspNetCore.Http;
using MimeKit;

namespace Inlet.WebConsole;

/// <summary>
/// The web console: one page (<see cref="Shell"/>) for every view's URL, which loads the hand-written ES modules
/// embedded in this assembly (<c>/console/*.js</c>) and draws the views from the JSON API; and the HTML body of a
/// message, served on its own under a policy that lets no script run and, unless asked, nothing remote load.
/// Only unsigned browser GETs are the console's: a signed or presigned request to the same path is S3's, as on AWS.
/// </summary>
internal sealed partial class ConsoleMiddleware(RequestDelegate next, ServerEndpoints endpoints, IMessageStore state, BlobStores blobs)
{
    private const string AssetPrefix = "console/";

    /// <summary>The first path segments of the console's views, whose URLs can be shared.</summary>
    private static readonly FrozenSet<string> s_views = new[] { "messages", "rules", "functions", "topics", "deliveries", "invocations", "outbox", "about" }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, (byte[] Bytes, string Type, string ETag)> s_assets = LoadAssets();

    private const string ShellPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; "
        + "form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (!IsBrowserRead(request))
        {
            await next(context);
            return;
        }

        var path = request.Path.Value ?? "/";
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (path == "/" && !request.QueryString.HasValue)
        {
            await WriteShellAsync(context);
        }
        else if (segments.Length > 0 && s_views.Contains(segments[0]) && segments.Length <= 2)
        {
            await WriteShellAsync(context);
        }
        else if (segments is ["console", var asset] && s_assets.TryGetValue(asset, out var file))
        {
            await WriteAssetAsync(context, file);
        }
        else if (segments is ["console", "messages", var id, "html"])
        {
            await WriteHtmlBodyAsync(context, id, request.Query["remote"] == "1");
        }
        else
        {
            await next(context);
        }
    }

    /// <summary>
    /// A GET or HEAD with no signature of any kind (header, SigV4 or SigV2 query): what a browser sends. The AWS
    /// CLI and SDKs always sign, so they still reach S3 at the same paths.
    /// </summary>
    internal static bool IsBrowserRead(HttpRequest request) =>
        (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
        && request.Headers.Authorization.Count == 0
        && !request.Query.ContainsKey("X-Amz-Credential") && !request.Query.ContainsKey("X-Amz-Signature")
        && !request.Query.ContainsKey("AWSAccessKeyId") && !request.Query.ContainsKey("Signature");

    private static FrozenDictionary<string, (byte[], string, string)> LoadAssets()
    {
        var assembly = typeof(ConsoleMiddleware).Assembly;
        var assets = new Dictionary<string, (byte[], string, string)>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(AssetPrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            var type = Path.GetExtension(name) switch
            {
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            assets[name[AssetPrefix.Length..]] = (bytes, type, $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]}\"");
        }

        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static Task WriteAssetAsync(HttpContext context, (byte[] Bytes, string Type, string ETag) asset)
    {
        var response = context.Response;
        response.Headers.ETag = asset.ETag;
        response.Headers.CacheControl = "no-cache";
        response.Headers.XContentTypeOptions = "nosniff";
        if (context.Request.Headers.IfNoneMatch.ToString() == asset.ETag)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        response.ContentType = asset.Type;
        response.ContentLength = asset.Bytes.Length;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(asset.Bytes, context.RequestAborted).AsTask();
    }

    /// <summary>
    /// The page every view starts from. What the server knows and the page cannot ask for (version, listeners,
    /// shipped documents) travels in a JSON data block, which is not a script and runs under no policy.
    /// </summary>
    private Task WriteShellAsync(HttpContext context)
    {
        static string E(string text) => WebUtility.HtmlEncode(text);
        var info = new ConsoleInfo(HomePage.Version, endpoints.Smtp, endpoints.Http, endpoints.Https, [.. HomePage.DocumentNames]);
        // "<" is escaped by the serializer's default encoder, so the block cannot be closed from inside.
        var json = JsonSerializer.Serialize(info, ConsoleJsonContext.Default.ConsoleInfo);
        var html = new StringBuilder()
            .Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
            .Append("<meta name=\"color-scheme\" content=\"light dark\">")
            .Append("<title>Inlet</title>")
            .Append("<link rel=\"icon\" href=\"/console/icon.svg\" type=\"image/svg+xml\">")
            .Append("<link rel=\"stylesheet\" href=\"/console/style.css\">")
            .Append("<script type=\"module\" src=\"/console/app.js\"></script>")
            .Append("</head><body>")
            .Append("<script type=\"application/json\" id=\"inlet-info\">").Append(json).Append("</script>")
            .Append("<noscript><h1>Inlet</h1><p>The console needs JavaScript. The JSON API is at <a href=\"/api/messages\">/api/messages</a>.</p>")
            .Append("<p>Version ").Append(E(info.Version)).Append(", SMTP on ").Append(E(info.Smtp)).Append(", HTTP on ").Append(E(info.Http)).Append(".</p></noscript>")
            .Append("</body></html>");
        var response = context.Response;
        response.ContentType = "text/html; charset=utf-8";
        response.Headers.ContentSecurityPolicy = ShellPolicy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers.CacheControl = "no-cache";
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.WriteAsync(html.ToString(), context.RequestAborted);
    }

    /// <summary>
    /// A message's HTML body for the console's sandboxed frame. The policy travels with the document, so it holds
    /// even when the URL is opened by itself: it is a sandbox (no script, no forms, an origin of its own), loads
    /// no script, and loads images, styles and fonts from elsewhere only with <c>?remote=1</c> (the user clicked
    /// "load remote content"). Inline parts (<c>cid:</c>) are served by this server, so they always show.
    /// </summary>
    private async Task WriteHtmlBodyAsync(HttpContext context, string id, bool remote)
    {
        var response = context.Response;
        MimeMessage? message = null;
        if (MessageId.IsValid(id) && await state.MessageExistsAsync(id, context.RequestAborted))
        {
            await using var stream = await MessageService.OpenReceivedAsync(blobs, id, context.RequestAborted);
            message = stream is null ? null : await MimeMessage.LoadAsync(stream, context.RequestAborted);
        }

        if (message?.HtmlBody is not { } html)
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            await response.WriteAsync("No HTML body", context.RequestAborted);
            return;
        }

        var parts = ConsoleEndpoints.Parts(message);
        html = CidReference().Replace(html, match =>
        {
            var cid = Uri.UnescapeDataString(match.Groups[1].Value);
            var index = parts.FindIndex(p => p.ContentId is { } c && string.Equals(c, cid, StringComparison.OrdinalIgnoreCase));
            return index < 0 ? match.Value : $"/api/messages/{id}/parts/{index}";
        });

        var elsewhere = remote ? " *" : string.Empty;
        response.ContentType = "text/html; charset=utf-8";
        response.Headers.ContentSecurityPolicy =
            $"sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; script-src 'none'; object-src 'none'; "
            + $"img-src 'self' data:{elsewhere}; style-src 'unsafe-inline'{elsewhere}; font-src data:{elsewhere}; media-src 'self'{elsewhere}; "
            + "form-action 'none'; base-uri 'none'; frame-ancestors 'self'";
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        // Links open outside the frame, in a tab of their own.
        await response.WriteAsync("<!doctype html><meta charset=\"utf-8\"><base target=\"_blank\">" + html, context.RequestAborted);
    }

    [GeneratedRegex("cid:([^\"'\\s)>]+)", RegexOptions.IgnoreCase)]
    private static partial Regex CidReference();
}

/// <summary>What the console's page is told by the server: its version, listeners and documents.</summary>
internal sealed record ConsoleInfo(string Version, string Smtp, string Http, string? Https, IReadOnlyList<string> Documents);
