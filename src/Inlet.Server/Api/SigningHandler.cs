namespace Inlet.Api;

/// <summary>
/// Signs outgoing requests with Signature Version 4, for Inlet's own clients (the CLI) talking to the AWS APIs of a
/// server. The service is taken from the path: Lambda's for <c>/2015-03-31/…</c>, otherwise the one given.
/// </summary>
internal sealed class SigningHandler(string accessKey, string secret, string region, string service = "ses") : DelegatingHandler(new SocketsHttpHandler())
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri!;
        if (uri.AbsolutePath.StartsWith("/api/", StringComparison.Ordinal) || uri.AbsolutePath is "/health" or "/metrics")
        {
            return await base.SendAsync(request, cancellationToken);
        }

        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        if (request.Content?.Headers.ContentType is { } type)
        {
            headers["content-type"] = type.ToString();
        }

        var target = uri.AbsolutePath.StartsWith("/2015-03-31/", StringComparison.Ordinal) ? "lambda" : service;
        foreach (var (name, value) in SigV4.Sign(request.Method.Method, uri, headers, body, accessKey, secret, region, target, DateTimeOffset.UtcNow))
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await base.SendAsync(request, cancellationToken);
    }
}
