using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Inlet.Api;

namespace Inlet.IntegrationTests;

/// <summary>
/// HTTP/1.1 over a raw socket, for what HttpClient will not send: paths with dot segments kept as they are, a Host
/// of the test's choosing, a Content-Length the body never reaches. Optionally signed with Signature Version 4 over
/// exactly those bytes.
/// </summary>
internal static class RawHttp
{
    public sealed record Response(int Status, string Headers, string Body);

    public static async Task<Response> SendAsync(IPEndPoint server, string method, string rawTarget, IReadOnlyDictionary<string, string>? headers = null, byte[]? body = null,
        string? host = null, (string Region, string Service)? sign = null, long? declaredLength = null, TimeSpan? timeout = null)
    {
        body ??= [];
        host ??= server.ToString();
        var all = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["host"] = host };
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            all[name] = value;
        }

        if (sign is { } scope)
        {
            var amzDate = DateTimeOffset.UtcNow.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
            all["x-amz-date"] = amzDate;
            var payloadHash = SigV4.HashHex(body);
            if (scope.Service == "s3")
            {
                all["x-amz-content-sha256"] = payloadHash;
            }

            var signed = all.Keys.Select(k => k.ToLowerInvariant()).Order(StringComparer.Ordinal).ToList();
            var lower = all.ToDictionary(p => p.Key.ToLowerInvariant(), p => p.Value, StringComparer.Ordinal);
            var question = rawTarget.IndexOf('?');
            var request = new SigV4Request(method, question < 0 ? rawTarget : rawTarget[..question], question < 0 ? string.Empty : rawTarget[(question + 1)..], lower, payloadHash);
            var credentialScope = $"{amzDate[..8]}/{scope.Region}/{scope.Service}/aws4_request";
            var signature = SigV4.Signature("inlet-secret", amzDate[..8], scope.Region, scope.Service, SigV4.StringToSign(amzDate, credentialScope, SigV4.CanonicalRequest(request, signed, scope.Service, presigned: false)));
            all["Authorization"] = $"{SigV4.Algorithm} Credential=inlet/{credentialScope}, SignedHeaders={string.Join(';', signed)}, Signature={signature}";
        }

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server);
        var stream = tcp.GetStream();
        var head = new StringBuilder($"{method} {rawTarget} HTTP/1.1\r\n");
        foreach (var (name, value) in all)
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        head.Append("Content-Length: ").Append(declaredLength ?? body.Length).Append("\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()));
        await stream.WriteAsync(body);
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, cts.Token)) > 0)
            {
                received.Write(buffer, 0, read);
                if (declaredLength is not null && Complete(received))
                {
                    break;
                }
            }
        }
        catch (IOException)
        {
            // The server may reset a connection whose body it will not read, once it has answered.
        }

        var text = Encoding.UTF8.GetString(received.ToArray());
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(split > 0, $"no HTTP response: '{text}'");
        var status = int.Parse(text.AsSpan(9, 3), CultureInfo.InvariantCulture);
        return new Response(status, text[..split], text[(split + 4)..]);
    }

    /// <summary>A whole response with a Content-Length has arrived (the connection may stay open waiting for the body we never send).</summary>
    private static bool Complete(MemoryStream received)
    {
        var text = Encoding.UTF8.GetString(received.ToArray());
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (split < 0)
        {
            return false;
        }

        var line = text[..split].Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        return line is null || Encoding.UTF8.GetByteCount(text[(split + 4)..]) >= int.Parse(line[15..].Trim(), CultureInfo.InvariantCulture);
    }
}
