using System.Reflection;
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
/// The documentation shipped inside the server, served at <c>/docs/{name}.md</c> to unsigned GETs (the console
/// links it), and the server's version.
/// </summary>
internal static class HomePage
{
    private const string DocsPrefix = "docs/";

    public static string Version { get; } =
        typeof(HomePage).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>An unsigned GET of one of the shipped documents, <c>/docs/{name}.md</c>.</summary>
    public static bool IsDocument(HttpRequest request) =>
        request.Path.StartsWithSegments("/docs", StringComparison.Ordinal) && HttpMethods.IsGet(request.Method)
        && !request.QueryString.HasValue && request.Headers.Authorization.Count == 0;

    private static IEnumerable<string> Documents =>
        typeof(HomePage).Assembly.GetManifestResourceNames().Where(n => n.StartsWith(DocsPrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal);

    /// <summary>The shipped documents' file names, such as <c>compatibility.md</c>.</summary>
    public static IEnumerable<string> DocumentNames => Documents.Select(d => d[DocsPrefix.Length..]);

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
