using System.Net;
using System.Text;
using MailKit.Net.Smtp;
using Microsoft.Playwright;
using MimeKit;

namespace Inlet.IntegrationTests;

/// <summary>
/// A Chromium of the machine's, driven by Playwright, headless, with a user-data folder of its own; Playwright
/// never downloads a browser. Launched once for the tests of a class, on first use.
/// </summary>
public sealed class ChromiumFixture : IAsyncDisposable
{
    private readonly string _profile = Path.Combine(Path.GetTempPath(), "inlet-chromium", Guid.NewGuid().ToString("N"));
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IPlaywright? _playwright;
    private IBrowserContext? _context;

    public async Task<IPage> NewPageAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_context is null)
            {
                _playwright = await Playwright.CreateAsync();
                _context = await _playwright.Chromium.LaunchPersistentContextAsync(_profile, new BrowserTypeLaunchPersistentContextOptions
                {
                    ExecutablePath = InstalledFactAttribute.Find("chromium"),
                    Headless = true,
                    Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
                    ViewportSize = new ViewportSize { Width = 1440, Height = 1000 },
                    ColorScheme = ColorScheme.Light,
                });
                _context.SetDefaultTimeout(15_000);
            }
        }
        finally
        {
            _gate.Release();
        }

        return await _context.NewPageAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_context is not null)
        {
            await _context.CloseAsync();
        }

        _playwright?.Dispose();
        _gate.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // Chromium may still hold a file for a moment; the folder is in the temporary folder.
        }
    }
}

/// <summary>Runs where Chromium and Node are installed (and, when asked, the Node runtime's AWS SDK v3).</summary>
public sealed class ConsoleFactAttribute : InstalledFactAttribute
{
    public ConsoleFactAttribute(bool nodeSdk = false)
        : base("chromium", "node")
    {
        if (Skip is null && nodeSdk && new Inlet.Functions.FunctionHost(new Inlet.Functions.FunctionCredentials(TimeProvider.System), "000000000000", Inlet.Functions.FunctionSandbox.None).NodeSdkPath is null)
        {
            Skip = "the Node runtime's AWS SDK v3 is not installed (npm was not on the PATH when the server was built)";
        }
    }
}

/// <summary>The web console in a real browser against a real server: live list, trace, sandboxed HTML, replay, live logs.</summary>
public sealed class ConsoleTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    /// <summary>Logs what it saw, then stops the rule set when the subject says "stop".</summary>
    private const string Checker = """
        exports.handler = async (event) => {
          const mail = event.Records[0].ses.mail;
          console.log('checking mail from', mail.source, 'about', JSON.stringify(mail.commonHeaders.subject));
          if (event.marker) console.log('marker', event.marker);
          return { disposition: (mail.commonHeaders.subject || '').includes('stop') ? 'STOP_RULE_SET' : 'CONTINUE' };
        };
        """;

    /// <summary>The shape of the SES guide's functions that read the message the S3 action stored.</summary>
    private const string Reader = """
        const { S3Client, GetObjectCommand } = require('@aws-sdk/client-s3');
        const s3 = new S3Client({});
        exports.handler = async (event) => {
          const mail = event.Records[0].ses.mail;
          const object = await s3.send(new GetObjectCommand({ Bucket: 'mail', Key: 'inbox/' + mail.messageId }));
          const body = await object.Body.transformToString();
          console.log('read', body.length, 'bytes of', mail.messageId, 'from S3');
          const spam = body.includes('unsubscribe now');
          console.log(spam ? 'looks like spam: stopping here' : 'looks fine');
          return { disposition: spam ? 'STOP_RULE_SET' : 'CONTINUE' };
        };
        """;

    private static async Task<TestServer> StartAsync(string code, string name = "checker", string environment = "{}")
    {
        var directory = TestServer.NewDirectory();
        var folder = FunctionFixtures.Write(directory, name, "index.js", code);
        return await TestServer.StartAsync($$"""
            Functions:
              - FunctionName: {{name}}
                Runtime: nodejs20.x
                Handler: index.handler
                Code: {{folder}}
                Timeout: 20
                Environment: { Variables: {{environment}} }
            Topics:
              - Name: mail-events
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: store-and-check
                    Enabled: true
                    Recipients: [example.com]
                    Actions:
                      - S3Action: { BucketName: mail, ObjectKeyPrefix: inbox/, TopicArn: "arn:aws:sns:us-east-1:000000000000:mail-events" }
                      - LambdaAction: { FunctionArn: {{name}}, InvocationType: RequestResponse }
                  - Name: tag
                    Enabled: true
                    Recipients: [example.com]
                    Actions:
                      - AddHeaderAction: { HeaderName: X-Checked, HeaderValue: "yes" }
              - RuleSetName: drafts
                Rules:
                  - Name: everything
                    Enabled: false
            ActiveReceiptRuleSet: main
            """, directory: directory);
    }

    private static async Task<string> SendAsync(TestServer server, string subject, string? html = null, string text = "Hello.\n")
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("Alice Sender <alice@sender.test>"));
        message.To.Add(MailboxAddress.Parse("info@example.com"));
        message.Subject = subject;
        var body = new BodyBuilder { TextBody = text, HtmlBody = html };
        if (html is not null)
        {
            body.Attachments.Add("report.txt", Encoding.UTF8.GetBytes("attached\n"), new ContentType("text", "plain"));
        }

        message.Body = body.ToMessageBody();
        using var client = new SmtpClient();
        await client.ConnectAsync("127.0.0.1", server.SmtpPort, MailKit.Security.SecureSocketOptions.None);
        var reply = await client.SendAsync(message);
        await client.DisconnectAsync(true);
        return reply.Split(' ').Last();
    }

    private static string Url(TestServer server, string path) => $"http://{server.Server.HttpEndPoint}{path}";

    [ConsoleFact]
    public async Task MessageList_MailArrivesOverSmtp_AppearsWithoutReload()
    {
        await using var server = await StartAsync(Checker);
        var page = await chromium.NewPageAsync();
        await page.GotoAsync(Url(server, "/"));
        await Assertions.Expect(page.Locator(".empty")).ToContainTextAsync("No mail yet");
        await Assertions.Expect(page.Locator(".live.on")).ToBeVisibleAsync();
        var navigations = 0;
        page.FrameNavigated += (_, frame) => navigations += frame == page.MainFrame ? 1 : 0;

        var id = await SendAsync(server, "please stop here");

        var row = page.Locator($"tr[data-id='{id}']");
        await Assertions.Expect(row).ToContainTextAsync("please stop here");
        await Assertions.Expect(row).ToContainTextAsync("alice@sender.test");
        // The row follows the message until its evaluation ends, and says how it ended.
        await Assertions.Expect(row.Locator(".badge")).ToHaveTextAsync("processed");
        await Assertions.Expect(row).ToContainTextAsync("STOP_RULE_SET by Lambda in store-and-check");
        Assert.Equal(0, navigations);

        // Search narrows the list (and is a URL that can be shared).
        await page.FillAsync("input[type=search]", "from:nobody@else.test");
        await page.PressAsync("input[type=search]", "Enter");
        await Assertions.Expect(page.Locator(".empty")).ToContainTextAsync("No message matches");
        Assert.Contains("search=from%3Anobody%40else.test", page.Url);
        await page.GotoAsync(Url(server, "/messages?search=" + Uri.EscapeDataString("subject:stop status:processed")));
        await Assertions.Expect(page.Locator($"tr[data-id='{id}']")).ToBeVisibleAsync();
    }

    [ConsoleFact]
    public async Task MessagePage_FunctionRan_ShowsTheRuleTheFunctionItsLogAndDisposition()
    {
        await using var server = await StartAsync(Checker);
        var id = await SendAsync(server, "please stop here");
        await server.WaitForMessageAsync(id);
        var page = await chromium.NewPageAsync();

        await page.GotoAsync(Url(server, $"/messages/{id}"));

        var trace = page.Locator(".trace");
        await Assertions.Expect(trace.Locator("li.rule .rule-name")).ToHaveTextAsync("store-and-check");
        var lambda = trace.Locator("li.action", new() { HasText = "Lambda" });
        await Assertions.Expect(lambda.Locator(".badge").First).ToHaveTextAsync("stop-rule-set");
        await Assertions.Expect(lambda.Locator(".invocation-head a")).ToHaveTextAsync("checker");
        await Assertions.Expect(lambda.Locator(".invocation-head .badge")).ToHaveTextAsync("STOP_RULE_SET");
        await Assertions.Expect(lambda.Locator(".log")).ToContainTextAsync("checking mail from alice@sender.test about \"please stop here\"");
        await Assertions.Expect(lambda.Locator(".log")).ToContainTextAsync("REPORT RequestId:");
        await Assertions.Expect(trace.Locator("li.action", new() { HasText = "S3" }).Locator(".notification")).ToContainTextAsync("published to arn:aws:sns:us-east-1:000000000000:mail-events");
        // The second rule never ran: the function ended the rule set.
        await Assertions.Expect(trace.Locator("li.rule")).ToHaveCountAsync(1);
        await Assertions.Expect(trace.Locator("li.end")).ToContainTextAsync("rule set evaluation ended by Lambda action 2 of rule store-and-check");

        // The event the function got is there to read.
        await lambda.Locator("summary", new() { HasText = "Event" }).ClickAsync();
        await Assertions.Expect(lambda.Locator("details[open] pre")).ToContainTextAsync("\"messageId\": \"" + id + "\"");
    }

    [ConsoleFact]
    public async Task MessagePage_HtmlWithScript_RendersWithoutRunningItOrLoadingRemoteContent()
    {
        await using var server = await StartAsync(Checker);
        var id = await SendAsync(server, "html", """
            <html><head><title>Original</title></head><body>
            <p id="greeting">Hello in HTML</p>
            <img id="remote" src="http://remote.invalid/track.png" alt="tracker">
            <img src="x" onerror="document.title='pwned by onerror'">
            <script>document.title = 'pwned'; document.body.insertAdjacentHTML('beforeend', '<p id=ran>ran</p>'); fetch('/api/messages?pwned=1'); parent.document.title = 'pwned parent';</script>
            </body></html>
            """);
        await server.WaitForMessageAsync(id);
        var page = await chromium.NewPageAsync();
        var requests = new List<string>();
        page.Request += (_, request) => requests.Add(request.Url);
        var failed = new List<(string Url, string? Why)>();
        page.RequestFailed += (_, request) => failed.Add((request.Url, request.Failure));
        var errors = new List<string>();
        page.Console += (_, message) => errors.Add(message.Text);

        await page.GotoAsync(Url(server, $"/messages/{id}#html"));

        var frame = page.FrameLocator("iframe.html-body");
        await Assertions.Expect(frame.Locator("#greeting")).ToHaveTextAsync("Hello in HTML");
        Assert.Equal("Inlet", await page.TitleAsync());
        var body = page.Frames.Single(f => f.Url.EndsWith("/html", StringComparison.Ordinal));
        Assert.Equal("Original", await body.EvaluateAsync<string>("document.title"));
        Assert.Equal(0, await body.Locator("#ran").CountAsync());
        Assert.False(await body.EvaluateAsync<bool>("document.getElementById('remote').complete && document.getElementById('remote').naturalWidth > 0"));
        Assert.DoesNotContain(requests, r => r.Contains("pwned", StringComparison.Ordinal));
        // The remote image is refused by the document's policy before any lookup of its host.
        Assert.All(requests.Where(r => r.Contains("remote.invalid", StringComparison.Ordinal)), r => Assert.True(failed.Any(f => f.Url == r && f.Why == "csp"), string.Join("; ", failed)));
        Assert.Contains(errors, e => e.Contains("Content Security Policy", StringComparison.Ordinal) || e.Contains("sandboxed", StringComparison.Ordinal));

        // The document carries its own policy, so opening its URL by itself runs nothing either.
        using var http = new HttpClient();
        using var response = await http.GetAsync(Url(server, $"/console/messages/{id}/html"));
        var policy = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.StartsWith("sandbox", policy);
        Assert.Contains("script-src 'none'", policy);

        // The attachment is listed and downloads.
        await page.ClickAsync("button[role=tab]:has-text('Attachments')");
        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("text=report.txt"));
        Assert.Equal("report.txt", download.SuggestedFilename);
    }

    [ConsoleFact]
    public async Task MessagePage_Replay_AddsTheReplaysTraceLive()
    {
        await using var server = await StartAsync(Checker);
        var id = await SendAsync(server, "all clear");
        await server.WaitForMessageAsync(id);
        var page = await chromium.NewPageAsync();
        await page.GotoAsync(Url(server, $"/messages/{id}"));
        await Assertions.Expect(page.Locator(".trace li.rule")).ToHaveCountAsync(2);

        await page.ClickAsync("button:has-text('Replay')");

        await Assertions.Expect(page.Locator(".trace li.note")).ToContainTextAsync("replayed under configuration version");
        await Assertions.Expect(page.Locator(".trace li.end")).ToHaveCountAsync(2);
        await Assertions.Expect(page.Locator(".trace li.rule")).ToHaveCountAsync(4);
        // Both runs invoked the function; each shows its own invocation.
        await Assertions.Expect(page.Locator(".trace .invocation")).ToHaveCountAsync(2);
        await Assertions.Expect(page.Locator(".status-row .badge")).ToHaveTextAsync("processed");
    }

    [ConsoleFact]
    public async Task FunctionPage_InvokedWhileOpen_ItsLogFollowsLive()
    {
        await using var server = await StartAsync(Checker);
        var id = await SendAsync(server, "first");
        await server.WaitForMessageAsync(id);
        var page = await chromium.NewPageAsync();
        await page.GotoAsync(Url(server, "/functions/checker"));
        await Assertions.Expect(page.Locator(".log")).ToContainTextAsync("about \"first\"");
        await Assertions.Expect(page.Locator(".live.on")).ToBeVisibleAsync();

        // Invoked from elsewhere (the Lambda API, as aws lambda invoke does): the lines appear as they are written.
        var storedEvent = await server.Http.GetStringAsync($"/api/messages/{id}/event?function=checker");
        var withMarker = storedEvent.TrimEnd().TrimEnd('}') + ",\"marker\":\"live-line-42\"}";
        using var invoked = await server.Http.PostAsync("/2015-03-31/functions/checker/invocations", new StringContent(withMarker, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, invoked.StatusCode);

        await Assertions.Expect(page.Locator(".log")).ToContainTextAsync("marker live-line-42");
        await Assertions.Expect(page.Locator("table.list tbody tr").First).ToContainTextAsync("invoke");

        // Invoked from the page, with a stored message's event.
        await page.SelectOptionAsync("select[name=message]", id);
        await page.ClickAsync("form.invoke button[type=submit]");
        await Assertions.Expect(page.Locator("form.invoke + div .invocation")).ToContainTextAsync("CONTINUE");
        await Assertions.Expect(page.Locator("table.list tbody tr").First).ToContainTextAsync("console, message");
    }

    [ConsoleFact(nodeSdk: true)]
    public async Task MessagePage_FunctionReadsS3_TraceShowsItsAwsCall()
    {
        // Node's own warnings (such as the SDK's about Node versions) would crowd the log in the picture.
        await using var server = await StartAsync(Reader, "spam-check", "{ NODE_NO_WARNINGS: \"1\" }");
        var id = await SendAsync(server, "Quarterly report", """
            <html><body style="font-family: sans-serif">
            <h2 style="color:#1d4ed8">Your quarterly report is ready</h2>
            <p>Hello Alice, the numbers for Q3 are in the attached file.</p>
            <p><a href="https://example.test/unsubscribe">unsubscribe now</a></p>
            </body></html>
            """, "Hello Alice, the numbers for Q3 are in the attached file.\nunsubscribe now\n");
        await server.WaitForMessageAsync(id);
        var page = await chromium.NewPageAsync();
        await page.GotoAsync(Url(server, $"/messages/{id}"));

        await Assertions.Expect(page.Locator(".trace .invocation .calls")).ToContainTextAsync($"GetObject mail/inbox/{id} 200");
        await Assertions.Expect(page.Locator(".trace .invocation .log")).ToContainTextAsync("looks like spam: stopping here");
        await Assertions.Expect(page.FrameLocator("iframe.html-body").Locator("h2")).ToHaveTextAsync("Your quarterly report is ready");

        if (Environment.GetEnvironmentVariable("INLET_SCREENSHOTS") == "1")
        {
            await page.WaitForTimeoutAsync(300);
            await page.ScreenshotAsync(new() { Path = Path.Combine(RepositoryRoot(), "docs", "console-message.png"), FullPage = false });
        }
    }

    [Fact]
    public async Task ConsoleInvoke_WithoutTheConsoleHeader_IsRefused()
    {
        await using var server = await TestServer.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Http.BaseAddress };
        // What a cross-site form can send: a POST without custom headers.
        using var form = await http.PostAsync("/api/functions/anything/invoke", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.Forbidden, form.StatusCode);
        Assert.Contains("X-Inlet-Console", await form.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ConsolePages_UnsignedGets_AreThePageAndSignedOnesStillReachS3()
    {
        await using var server = await TestServer.StartAsync("Buckets: [messages]");
        using var http = new HttpClient { BaseAddress = server.Http.BaseAddress };
        foreach (var path in new[] { "/", "/messages", "/messages/0000", "/functions/x", "/rules", "/outbox", "/about" })
        {
            using var response = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
            Assert.Contains("script-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single());
            Assert.Contains("/console/app.js", await response.Content.ReadAsStringAsync());
        }

        using var script = await http.GetAsync("/console/app.js");
        Assert.Equal("text/javascript", script.Content.Headers.ContentType!.MediaType);
        using var missing = await http.GetAsync("/console/nothing.js");
        Assert.Equal(HttpStatusCode.Forbidden, missing.StatusCode);

        // A signed request to the same path is S3's: the bucket named "messages" lists as before.
        var list = await AwsCli.RunAsync(server, "s3api", "list-objects-v2", "--bucket", "messages");
        Assert.True(list.ExitCode == 0, list.Error);
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Inlet.slnx")))
            {
                return folder.FullName;
            }
        }

        throw new DirectoryNotFoundException("the repository (Inlet.slnx) is not above the test assembly");
    }
}
