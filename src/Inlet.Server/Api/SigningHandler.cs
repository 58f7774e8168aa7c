namespace Inlet.Api;

/// <summary>
/// Signs outgoing requests with Signature Version 4, for Inlet's own clients (the CLI) talking to a server. The
/// service is the one the request goes to: Lambda's paths, Inlet's own <c>/api</c> (service <c>inlet</c>, needed
/// when the server listens beyond loopback), a Query request's by its Version, otherwise the one given.
/// </summary>
internal sealed class SigningHandler(string accessKey, string secret, string region, string service = "ses") : DelegatingHandler(new SocketsHttpHandler())
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri!;
        if (uri.AbsolutePath is "/health" or "/metrics")
        {
            return await base.SendAsync(request, cancellationToken);
        }

        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        if (request.Content?.Headers.ContentType is { } type)
        {
            headers["content-type"] = type.ToString();
        }

        var path = uri.AbsolutePath;
        var form = request.Content?.Headers.ContentType?.MediaType == "application/x-www-form-urlencoded" ? System.Text.Encoding.UTF8.GetString(body) : string.Empty;
        var target = path.StartsWith("/2015-03-31/", StringComparison.Ordinal) || path.StartsWith("/2019-09-25/", StringComparison.Ordinal) ? "lambda"
            : path.StartsWith("/api/", StringComparison.Ordinal) ? HttpLimits.InletService
            : form.Contains("Version=2010-03-31", StringComparison.Ordinal) ? "sns"
            : form.Contains("Version=2011-06-15", StringComparison.Ordinal) ? "sts"
            : service;
        foreach (var (name, value) in SigV4.Sign(request.Method.Method, uri, headers, body, accessKey, secret, region, target, DateTimeOffset.UtcNow))
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await base.SendAsync(request, cancellationToken);
    }
}
