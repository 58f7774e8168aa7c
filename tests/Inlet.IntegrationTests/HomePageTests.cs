using System.Net;

namespace Inlet.IntegrationTests;

/// <summary>What a browser sees at / (the console), and that signed requests to / still reach the AWS APIs.</summary>
public class HomePageTests
{
    [Fact]
    public async Task Root_UnsignedBrowserGet_IsTheConsoleWithTheVersionListenersAndDocs()
    {
        await using var server = await TestServer.StartAsync("Buckets: [listed]");
        using var browser = new HttpClient { BaseAddress = server.Http.BaseAddress };
        using var response = await browser.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("<title>Inlet</title>", html);
        Assert.Contains("src=\"/console/app.js\"", html);
        var info = System.Text.Json.JsonDocument.Parse(System.Text.RegularExpressions.Regex.Match(html, "<script type=\"application/json\" id=\"inlet-info\">(.*?)</script>").Groups[1].Value).RootElement;
        Assert.Matches(@"^\d+\.\d+\.\d+", info.GetProperty("version").GetString());
        Assert.Equal(server.Server.SmtpEndPoint.ToString(), info.GetProperty("smtp").GetString());
        Assert.Equal(server.Server.HttpEndPoint.ToString(), info.GetProperty("http").GetString());
        Assert.Contains("compatibility.md", info.GetProperty("documents").EnumerateArray().Select(d => d.GetString()));

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
