using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Inlet.IntegrationTests;

/// <summary>Who may use the HTTP endpoint: its own names only, no foreign pages, credentials beyond loopback.</summary>
public sealed class HttpAccessTests
{
    [Fact]
    public async Task Api_ForAForeignHost_Is421()
    {
        await using var server = await TestServer.StartAsync();
        // A DNS-rebinding page reaches the loopback address under its own name.
        var rebound = await RawHttp.SendAsync(server.Server.HttpEndPoint, "GET", "/api/messages", host: "evil.example");
        Assert.Equal(421, rebound.Status);
        Assert.Contains("Http.AllowedHosts", rebound.Body);

        foreach (var host in new[] { "localhost", $"localhost:{server.Server.HttpEndPoint.Port}", "127.0.0.1", "[::1]", "inlet.localhost" })
        {
            Assert.Equal(200, (await RawHttp.SendAsync(server.Server.HttpEndPoint, "GET", "/api/messages", host: host)).Status);
        }
    }

    [Fact]
    public async Task AllowedHostsAndVirtualHostedBuckets_AreAnswered()
    {
        await using var server = await TestServer.StartAsync("Http: { AllowedHosts: [mail.inlet.test] }");
        Assert.Equal(200, (await RawHttp.SendAsync(server.Server.HttpEndPoint, "GET", "/api/messages", host: "mail.inlet.test")).Status);
        Assert.Equal(421, (await RawHttp.SendAsync(server.Server.HttpEndPoint, "GET", "/api/messages", host: "inlet.test")).Status);

        // Virtual-hosted S3 reaches S3 (and its signature check), not the Host refusal.
        foreach (var host in new[] { "files.localhost", "files.s3.mail.inlet.test" })
        {
            var s3 = await RawHttp.SendAsync(server.Server.HttpEndPoint, "GET", "/key", host: host);
            Assert.Equal(403, s3.Status);
            Assert.Contains("<Code>AccessDenied</Code>", s3.Body);
        }
    }

    [Fact]
    public async Task StateChangingRequest_FromAForeignPage_Is403()
    {
        await using var server = await TestServer.StartAsync();
        var port = server.Server.HttpEndPoint.Port;
        var id = new string('0', 40);
        var foreign = await RawHttp.SendAsync(server.Server.HttpEndPoint, "POST", $"/api/messages/{id}/replay", new Dictionary<string, string> { ["Origin"] = "https://evil.example" });
        Assert.Equal(403, foreign.Status);
        Assert.Contains("ForeignOrigin", foreign.Body);
        // Another program on the same machine is another origin too.
        Assert.Equal(403, (await RawHttp.SendAsync(server.Server.HttpEndPoint, "POST", $"/api/messages/{id}/replay", new Dictionary<string, string> { ["Origin"] = "http://localhost:3000" })).Status);
        Assert.Equal(403, (await RawHttp.SendAsync(server.Server.HttpEndPoint, "POST", $"/api/messages/{id}/replay", new Dictionary<string, string> { ["Origin"] = "null" })).Status);
        Assert.Equal(403, (await RawHttp.SendAsync(server.Server.HttpEndPoint, "DELETE", "/api/messages", new Dictionary<string, string> { ["Sec-Fetch-Site"] = "cross-site" })).Status);

        // Inlet's own pages, and clients that are not browsers, are served.
        Assert.Equal(404, (await RawHttp.SendAsync(server.Server.HttpEndPoint, "POST", $"/api/messages/{id}/replay", new Dictionary<string, string> { ["Origin"] = $"http://127.0.0.1:{port}", ["Sec-Fetch-Site"] = "same-origin" })).Status);
        Assert.Equal(404, (await RawHttp.SendAsync(server.Server.HttpEndPoint, "POST", $"/api/messages/{id}/replay")).Status);
        // Reading is not refused: a cross-site page cannot read the answer anyway (no CORS).
        Assert.Equal(200, (await RawHttp.SendAsync(server.Server.HttpEndPoint, "GET", "/api/messages", new Dictionary<string, string> { ["Origin"] = "https://evil.example" })).Status);
    }

    [Fact]
    public async Task BeyondLoopback_ApiNeedsSignatureOrConsolePassword()
    {
        await using var server = await TestServer.StartAsync(adjust: o => o with { Http = o.Http with { Listen = "0.0.0.0:0", ConsolePassword = "s3cret" } });
        var endPoint = new IPEndPoint(IPAddress.Loopback, server.Server.HttpEndPoint.Port);
        using var anonymous = new HttpClient { BaseAddress = new Uri($"http://{endPoint}") };
        using (var refused = await anonymous.GetAsync("/api/messages"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("Basic", refused.Headers.WwwAuthenticate.Single().Scheme);
        }

        using (var page = await anonymous.GetAsync("/"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, page.StatusCode);
        }

        // What machines need stays open.
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health")).StatusCode);

        var basic = new HttpRequestMessage(HttpMethod.Get, "/api/messages");
        basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:s3cret")));
        Assert.Equal(HttpStatusCode.OK, (await anonymous.SendAsync(basic)).StatusCode);
        var wrong = new HttpRequestMessage(HttpMethod.Get, "/api/messages");
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:guess")));
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.SendAsync(wrong)).StatusCode);

        // The CLI's client signs /api with the configured keys (service "inlet").
        using var signed = new HttpClient(new Inlet.Api.SigningHandler("inlet", "inlet-secret", "us-east-1")) { BaseAddress = anonymous.BaseAddress };
        Assert.Equal(HttpStatusCode.OK, (await signed.GetAsync("/api/messages")).StatusCode);
        using var content = new StringContent("Subject: t\r\n\r\nbody\r\n");
        Assert.Equal(HttpStatusCode.OK, (await signed.PostAsync("/api/rules/test?to=x@example.com", content)).StatusCode);
        using var impostor = new HttpClient(new Inlet.Api.SigningHandler("inlet", "not-the-secret", "us-east-1")) { BaseAddress = anonymous.BaseAddress };
        Assert.Equal(HttpStatusCode.Unauthorized, (await impostor.GetAsync("/api/messages")).StatusCode);
    }
}
