using System.Text.Json;
using Inlet.Hosting;
using MimeKit;

namespace Inlet.IntegrationTests;

/// <summary>The Lambda action behind real SMTP traffic, with real Node and Python runtimes.</summary>
public class LambdaActionTests
{
    private static MimeMessage Message(string subject, string to = "user@example.com")
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("Sender Name <sender@sender.test>"));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = subject;
        message.Body = new TextPart("plain") { Text = "body\n" };
        return message;
    }

    /// <summary>A server whose first rule calls the function and whose later actions and rules show what ran.</summary>
    private static async Task<(TestServer Server, string EventLog)> StartAsync(string runtime, string handler, string file, string code, string invocationType = "RequestResponse", int timeout = 3, Func<InletOptions, InletOptions>? adjust = null)
    {
        var directory = TestServer.NewDirectory();
        var folder = FunctionFixtures.Write(directory, "fn", file, code);
        var eventLog = Path.Combine(FunctionFixtures.OutputFolder(directory), "events.jsonl");
        var yaml = $$"""
            Functions:
              - FunctionName: fn
                Runtime: {{runtime}}
                Handler: {{handler}}
                Code: {{folder}}
                Timeout: {{timeout}}
                Environment: { Variables: { EVENT_LOG: {{eventLog}} } }
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: first
                    Enabled: true
                    Actions:
                      - LambdaAction: { FunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:fn", InvocationType: {{invocationType}} }
                      - S3Action: { BucketName: same-rule }
                  - Name: second
                    Enabled: true
                    Actions:
                      - S3Action: { BucketName: later-rule }
            """;
        var server = await TestServer.StartAsync(yaml, o => (adjust ?? (x => x))(o with
        {
            Processing = o.Processing with { RetryInitialDelay = TimeSpan.FromMilliseconds(200), RetryMaxDelay = TimeSpan.FromMilliseconds(200) },
        }), directory);
        return (server, eventLog);
    }

    private static async Task<(string Id, JsonElement Detail)> SendAndWaitAsync(TestServer server, string subject, string status = "processed")
    {
        var id = await ReceiptRuleTests.SendAsync(server, Message(subject));
        await server.WaitForMessageAsync(id, status);
        return (id, await server.GetDetailAsync(id));
    }

    private static List<JsonElement> Actions(JsonElement detail) =>
        detail.GetProperty("trace").EnumerateArray().Where(t => t.GetProperty("kind").GetString() == "action").ToList();

    [Fact]
    public async Task SesDocumentationHandler_StopRuleSet_EndsEverything()
    {
        var (server, _) = await StartAsync("nodejs20.x", "index.handler", "index.js", FunctionFixtures.SesDocumentationHandler);
        await using var _ = server;
        var (id, detail) = await SendAndWaitAsync(server, "spam?");
        Assert.Null(ReceiptRuleTests.ReadObject(server, "same-rule", id));
        Assert.Null(ReceiptRuleTests.ReadObject(server, "later-rule", id));
        var lambda = Actions(detail).Single();
        Assert.Equal("stop-rule-set", lambda.GetProperty("outcome").GetString());
        Assert.Contains("disposition STOP_RULE_SET", lambda.GetProperty("detail").GetString());

        // The handler prints the whole notification, one line per JSON line: read past the newest hundred lines.
        var logs = await server.Http.GetStringAsync("/api/functions/fn/logs?tail=1000");
        Assert.Contains("Spam filter", logs);
        Assert.Contains("\"messageId\": \"" + id + "\"", logs);
        Assert.Matches(@"REPORT RequestId: [0-9a-f-]{36}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: [\d.]+ ms", logs);
    }

    [Theory]
    [InlineData("STOP_RULE", false, true)]
    [InlineData("STOP_RULE_SET", false, false)]
    [InlineData("stop_rule_set", false, false)]
    [InlineData("CONTINUE", true, true)]
    [InlineData("bogus", true, true)]
    [InlineData("null", true, true)]
    [InlineData("nothing", true, true)]
    public async Task Disposition_StearsTheRulesAfterIt(string subject, bool sameRuleRuns, bool laterRuleRuns)
    {
        var (server, _) = await StartAsync("nodejs22.x", "index.handler", "index.js", FunctionFixtures.SubjectDisposition);
        await using var _ = server;
        var (id, _) = await SendAndWaitAsync(server, subject);
        Assert.Equal(sameRuleRuns, ReceiptRuleTests.ReadObject(server, "same-rule", id) is not null);
        Assert.Equal(laterRuleRuns, ReceiptRuleTests.ReadObject(server, "later-rule", id) is not null);
    }

    [Fact]
    public async Task Event_IsQueuedAndTheFlowGoesOnAtOnce()
    {
        var (server, eventLog) = await StartAsync("nodejs20.x", "index.handler", "index.js", FunctionFixtures.SubjectDisposition, invocationType: "Event");
        await using var _ = server;
        var (id, detail) = await SendAndWaitAsync(server, "STOP_RULE_SET");
        // An Event invocation has no say in the flow.
        Assert.NotNull(ReceiptRuleTests.ReadObject(server, "same-rule", id));
        Assert.NotNull(ReceiptRuleTests.ReadObject(server, "later-rule", id));
        Assert.Contains("queued as asynchronous invocation", Actions(detail)[0].GetProperty("detail").GetString());
        // The function makes the file, then writes its line: wait for the line, not for the file.
        for (var i = 0; i < 100 && !(File.Exists(eventLog) && File.ReadAllText(eventLog).EndsWith('\n')); i++)
        {
            await Task.Delay(100);
        }

        var seen = JsonDocument.Parse(File.ReadAllLines(eventLog).Single()).RootElement;
        var action = seen.GetProperty("Records")[0].GetProperty("ses").GetProperty("receipt").GetProperty("action");
        Assert.Equal("Event", action.GetProperty("invocationType").GetString());
    }

    [Fact]
    public async Task FunctionError_FailsTheActionWithTheReportedTypeAndIsRetried()
    {
        var (server, eventLog) = await StartAsync("nodejs20.x", "index.handler", "index.js", FunctionFixtures.SubjectDisposition);
        await using var _ = server;
        var id = await ReceiptRuleTests.SendAsync(server, Message("throw"));
        await server.WaitForMessageAsync(id, "retrying");
        var failed = Actions(await server.GetDetailAsync(id)).First();
        Assert.Equal("retrying", failed.GetProperty("outcome").GetString());
        Assert.StartsWith("TypeError: bad subject", failed.GetProperty("error").GetString());
        // Later actions wait while the function is retried.
        Assert.Null(ReceiptRuleTests.ReadObject(server, "same-rule", id));
        for (var i = 0; i < 100 && File.ReadAllLines(eventLog).Length < 2; i++)
        {
            await Task.Delay(50);
        }

        Assert.True(File.ReadAllLines(eventLog).Length >= 2, "the function was not called again");
    }

    [Fact]
    public async Task Timeout_KillsTheEnvironmentAndANewOneServesTheNextMessage()
    {
        var (server, _) = await StartAsync("nodejs20.x", "index.handler", "index.js", FunctionFixtures.SubjectDisposition, timeout: 1);
        await using var _ = server;
        var id = await ReceiptRuleTests.SendAsync(server, Message("sleep"));
        await server.WaitForMessageAsync(id, "retrying");
        var failed = Actions(await server.GetDetailAsync(id)).First();
        Assert.Contains("Sandbox.Timedout", failed.GetProperty("error").GetString());
        Assert.Contains("Task timed out after 1.00 seconds", failed.GetProperty("error").GetString());

        var (next, _) = await SendAndWaitAsync(server, "STOP_RULE");
        Assert.NotNull(ReceiptRuleTests.ReadObject(server, "later-rule", next));
    }

    [Fact]
    public async Task Crash_FailsOnlyTheInvocationItHeld()
    {
        var (server, _) = await StartAsync("nodejs20.x", "index.handler", "index.js", FunctionFixtures.SubjectDisposition);
        await using var _ = server;
        var id = await ReceiptRuleTests.SendAsync(server, Message("crash"));
        await server.WaitForMessageAsync(id, "retrying");
        var failed = Actions(await server.GetDetailAsync(id)).First();
        Assert.Contains("Runtime.ExitError", failed.GetProperty("error").GetString());
        Assert.Contains("exit status 3", failed.GetProperty("error").GetString());

        var (next, _) = await SendAndWaitAsync(server, "CONTINUE");
        Assert.NotNull(ReceiptRuleTests.ReadObject(server, "same-rule", next));
        var logs = await server.Http.GetStringAsync("/api/functions/fn/logs?tail=1000");
        Assert.Contains("\tINFO\tsubject CONTINUE", logs);
        Assert.Contains("\tERROR\tto stderr", logs);
    }

    [Fact]
    public async Task EsModuleHandler_InANestedFolder_Works()
    {
        var directory = TestServer.NewDirectory();
        var (server, _) = await StartAsync("nodejs22.x", "lib/app.handler", "lib/app.mjs", FunctionFixtures.EsModule);
        await using var _ = server;
        var (id, detail) = await SendAndWaitAsync(server, "esm");
        Assert.Null(ReceiptRuleTests.ReadObject(server, "same-rule", id));
        Assert.NotNull(ReceiptRuleTests.ReadObject(server, "later-rule", id));
        Assert.Equal("stop-rule", Actions(detail)[0].GetProperty("outcome").GetString());
    }

    [Fact]
    public async Task ProvidedRuntime_PythonBootstrap_Works()
    {
        var (server, _) = await StartAsync("provided.al2023", "ignored.handler", "bootstrap", FunctionFixtures.PythonBootstrap);
        await using var _ = server;
        var (id, detail) = await SendAndWaitAsync(server, "python");
        Assert.Null(ReceiptRuleTests.ReadObject(server, "later-rule", id));
        Assert.Equal("stop-rule-set", Actions(detail)[0].GetProperty("outcome").GetString());
        Assert.Contains("python got 1 record(s)", await server.Http.GetStringAsync("/api/functions/fn/logs"));
    }

    [Fact]
    public async Task InlineMode_SlowFunctionPastTheBudget_Gets451()
    {
        var (server, _) = await StartAsync("nodejs20.x", "index.handler", "index.js", FunctionFixtures.SubjectDisposition, timeout: 10, adjust: o => o with { Smtp = o.Smtp with { Mode = Inlet.Core.ProcessingMode.Inline, InlineTimeout = TimeSpan.FromSeconds(1) } });
        await using var _ = server;
        var e = await Assert.ThrowsAsync<MailKit.Net.Smtp.SmtpCommandException>(() => ReceiptRuleTests.SendAsync(server, Message("sleep")));
        Assert.Equal((MailKit.Net.Smtp.SmtpStatusCode)451, e.StatusCode);
        Assert.Contains("4.3.0", e.Message + " 4.3.0");
        var message = (await server.GetJsonAsync("/api/messages")).GetProperty("messages")[0];
        Assert.Equal("rejected", message.GetProperty("status").GetString());

        // Recorded once, when the run was cut short: with what it did up to then, and why it ended.
        var trace = (await server.GetDetailAsync(message.GetProperty("messageId").GetString()!)).GetProperty("trace").EnumerateArray().ToList();
        Assert.Equal(["received", "verdicts", "rule", "end"], trace.Select(t => t.GetProperty("kind").GetString()));
        Assert.Contains("budget of 1 s", trace[^1].GetProperty("detail").GetString());
    }

    [Fact]
    public async Task InlineMode_StopRuleSetFromTheFunction_IsAcceptedWith250()
    {
        var (server, _) = await StartAsync("nodejs20.x", "index.handler", "index.js", FunctionFixtures.SesDocumentationHandler, adjust: o => o with { Smtp = o.Smtp with { Mode = Inlet.Core.ProcessingMode.Inline } });
        await using var _ = server;
        var id = await ReceiptRuleTests.SendAsync(server, Message("inline"));
        Assert.Equal("processed", (await server.GetDetailAsync(id)).GetProperty("message").GetProperty("status").GetString());
        Assert.Null(ReceiptRuleTests.ReadObject(server, "later-rule", id));
    }

    [Fact]
    public void Configuration_LambdaActionForAnUnknownFunction_IsRefused()
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load("""
            ReceiptRuleSets:
              - RuleSetName: s
                Rules:
                  - Name: r
                    Actions: [{ LambdaAction: { FunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:missing" } }]
            """));
        Assert.Contains("LambdaAction names an unknown function: arn:aws:lambda:us-east-1:000000000000:function:missing", e.Message);
    }

    [Fact]
    public async Task ReceiptActionFunctionArn_RuleNamesTheFunctionByNameOrPartialArn_IsTheFullArnInEventNotificationAndDryRun()
    {
        var directory = TestServer.NewDirectory();
        var eventLog = Path.Combine(FunctionFixtures.OutputFolder(directory), "events.jsonl");
        // One function sees both the SES events (as the rules' function) and the SNS events (as the topic's subscriber).
        var folder = FunctionFixtures.Write(directory, "fn", "index.js", """
            const fs = require('fs');
            exports.handler = async (event) => {
                const record = event.Records[0];
                const action = record.Sns ? JSON.parse(record.Sns.Message).receipt.action : record.ses.receipt.action;
                fs.appendFileSync(process.env.EVENT_LOG, JSON.stringify({ source: record.Sns ? 'sns' : 'ses', action }) + '\n');
                return { disposition: 'CONTINUE' };
            };
            """);
        const string FullArn = "arn:aws:lambda:us-east-1:000000000000:function:fn";
        await using var server = await TestServer.StartAsync(
            $$"""
            Functions:
              - FunctionName: fn
                Runtime: nodejs20.x
                Handler: index.handler
                Code: {{folder}}
                Environment: { Variables: { EVENT_LOG: {{eventLog}} } }
            Topics:
              - Name: t
                Subscriptions: [{ Protocol: lambda, Endpoint: "{{FullArn}}" }]
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: by-name
                    Enabled: true
                    Recipients: [example.com]
                    Actions: [{ LambdaAction: { FunctionArn: fn, InvocationType: RequestResponse, TopicArn: "arn:aws:sns:us-east-1:000000000000:t" } }]
                  - Name: by-partial-arn
                    Enabled: true
                    Recipients: [example.com]
                    Actions: [{ LambdaAction: { FunctionArn: "000000000000:function:fn", InvocationType: RequestResponse, TopicArn: "arn:aws:sns:us-east-1:000000000000:t" } }]
            """,
            directory: directory);

        var id = await ReceiptRuleTests.SendAsync(server, Message("which arn?"));
        await server.WaitForMessageAsync(id);
        var lines = new List<JsonElement>();
        for (var i = 0; i < 100; i++)
        {
            lines = File.Exists(eventLog) ? [.. File.ReadAllLines(eventLog).Select(l => JsonDocument.Parse(l).RootElement)] : [];
            if (lines.Count(l => l.GetProperty("source").GetString() == "sns") == 2)
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.Equal(2, lines.Count(l => l.GetProperty("source").GetString() == "ses"));
        Assert.Equal(2, lines.Count(l => l.GetProperty("source").GetString() == "sns"));
        Assert.All(lines, l => Assert.Equal(FullArn, l.GetProperty("action").GetProperty("functionArn").GetString()));

        // The dry run shows the action as the event will.
        using var response = await server.Http.PostAsync("/api/rules/test?from=a@sender.test&to=b@example.com", new StringContent("Subject: dry\r\n\r\nbody\r\n"));
        response.EnsureSuccessStatusCode();
        var dry = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var arns = dry.GetProperty("rules").EnumerateArray().SelectMany(r => r.GetProperty("actions").EnumerateArray()).Select(a => a.GetProperty("receipt").GetProperty("functionArn").GetString()).ToList();
        Assert.Equal([FullArn, FullArn], arns);
    }
}
