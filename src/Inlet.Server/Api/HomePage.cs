using System.Net;
using System.Reflection;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Inlet.Api;

/// <summary>Where this server listens, known once its listeners are bound (port 0 resolves then).</summary>
internal sealed class ServerEndpoints
{
    public string Smtp { get; set; } = string.Empty;

    public string Http { get; set; } = string.Empty;

    public string? Https { get; set; }
}

/// <summary>
/// What a browser sees at <c>/</c>: what this server is, where it listens, and links to Inlet's own endpoints and
/// to the documentation shipped inside the server (<c>/docs/*.md</c>). Only an unsigned GET of <c>/</c> without a
/// query gets it; signed requests to <c>/</c> are S3's ListBuckets or the Query protocol, as on AWS.
/// </summary>
internal static class HomePage
{
    private const string DocsPrefix = "docs/";

    public static string Version { get; } =
        typeof(HomePage).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>An unsigned browser request for the page: GET or HEAD of <c>/</c>, no query, no Authorization.</summary>
    public static bool IsFor(HttpRequest request) =>
        request.Path.Value == "/" && (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
        && !request.QueryString.HasValue && request.Headers.Authorization.Count == 0;

    /// <summary>An unsigned GET of one of the shipped documents, <c>/docs/{name}.md</c>.</summary>
    public static bool IsDocument(HttpRequest request) =>
        request.Path.StartsWithSegments("/docs", StringComparison.Ordinal) && HttpMethods.IsGet(request.Method)
        && !request.QueryString.HasValue && request.Headers.Authorization.Count == 0;

    private static IEnumerable<string> Documents =>
        typeof(HomePage).Assembly.GetManifestResourceNames().Where(n => n.StartsWith(DocsPrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal);

    public static Task WriteAsync(HttpContext context, ServerEndpoints endpoints)
    {
        static string E(string text) => WebUtility.HtmlEncode(text);
        var html = new StringBuilder()
            .Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Inlet</title></head><body>")
            .Append("<h1>Inlet</h1><p>A self-hosted implementation of Amazon SES email receiving: SMTP in, receipt rules, ")
            .Append("actions (Lambda, SNS, S3, Bounce, Stop, AddHeader), and the SES, SNS, Lambda and S3 APIs on this endpoint.</p>")
            .Append("<p>Version ").Append(E(Version)).Append("</p><h2>Listeners</h2><ul>")
            .Append("<li>SMTP: ").Append(E(endpoints.Smtp)).Append("</li>")
            .Append("<li>HTTP: ").Append(E(endpoints.Http)).Append("</li>")
            .Append("<li>HTTPS: ").Append(E(endpoints.Https ?? "off")).Append("</li></ul>")
            .Append("<h2>Endpoints</h2><ul>")
            .Append("<li><a href=\"/api/messages\">/api/messages</a>: message records and their traces</li>")
            .Append("<li><a href=\"/api/outbox\">/api/outbox</a>: bounces kept when no relay is configured</li>")
            .Append("<li><a href=\"/metrics\">/metrics</a>: Prometheus metrics</li>")
            .Append("<li><a href=\"/health\">/health</a></li>")
            .Append("<li>AWS APIs (Signature Version 4): <code>aws --endpoint-url http://").Append(E(endpoints.Http)).Append(" ses|sns|lambda|s3api …</code></li></ul>")
            .Append("<h2>Documentation</h2><ul>");
        foreach (var document in Documents)
        {
            var name = document[DocsPrefix.Length..];
            html.Append("<li><a href=\"/docs/").Append(E(name)).Append("\">").Append(E(name)).Append("</a></li>");
        }

        html.Append("</ul></body></html>");
        context.Response.ContentType = "text/html; charset=utf-8";
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : context.Response.WriteAsync(html.ToString(), context.RequestAborted);
    }

    public static async Task WriteDocumentAsync(HttpContext context)
    {
        var name = DocsPrefix + context.Request.Path.Value!["/docs/".Length..];
        await using var stream = Documents.Contains(name, StringComparer.Ordinal) ? typeof(HomePage).Assembly.GetManifestResourceStream(name) : null;
        if (stream is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            await context.Response.WriteAsync("No such document", context.RequestAborted);
            return;
        }

        context.Response.ContentType = "text/markdown; charset=utf-8";
        await stream.CopyToAsync(context.Response.Body, context.RequestAborted);
    }
}
