using System.Net;

namespace Inlet.IntegrationTests;

/// <summary>What a browser sees at /, and that signed requests to / still reach the AWS APIs.</summary>
public class HomePageTests
{
    [Fact]
    public async Task Root_UnsignedBrowserGet_IsAnHtmlPageLinkingTheEndpointsAndDocs()
    {
        await using var server = await TestServer.StartAsync("Buckets: [listed]");
        using var browser = new HttpClient { BaseAddress = server.Http.BaseAddress };
        using var response = await browser.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("<h1>Inlet</h1>", html);
        Assert.Contains("Amazon SES email receiving", html);
        Assert.Matches(@"Version \d+\.\d+\.\d+", html);
        Assert.Contains($"SMTP: {server.Server.SmtpEndPoint}", html);
        Assert.Contains($"HTTP: {server.Server.HttpEndPoint}", html);
        Assert.Contains("href=\"/api/messages\"", html);
        Assert.Contains("href=\"/metrics\"", html);
        Assert.Contains("href=\"/docs/compatibility.md\"", html);

        var document = await browser.GetAsync("/docs/compatibility.md");
        Assert.Equal(HttpStatusCode.OK, document.StatusCode);
        Assert.StartsWith("# Compatibility decisions", await document.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync("/docs/nothing.md")).StatusCode);

        // Anything else unsigned at / is still refused as AWS refuses it.
        using var query = await browser.GetAsync("/?list-type=2");
        Assert.Equal(HttpStatusCode.Forbidden, query.StatusCode);
        Assert.Contains("<Code>AccessDenied</Code>", await query.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Root_SignedGet_IsStillS3ListBuckets()
    {
        await using var server = await TestServer.StartAsync("Buckets: [listed]");
        var list = await AwsCli.RunAsync(server, "s3api", "list-buckets");
        Assert.True(list.ExitCode == 0, list.Error);
        Assert.Equal("listed", list.Json.GetProperty("Buckets")[0].GetProperty("Name").GetString());
        var ls = await AwsCli.RunAsync(server, "s3", "ls");
        Assert.True(ls.ExitCode == 0, ls.Error);
        Assert.Contains(" listed", ls.Output);
    }
}
