using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Inlet.IntegrationTests;

/// <summary>Functions through the Invoke API, the aws CLI, the inlet CLI, the asynchronous queue and the http runtime.</summary>
public class FunctionApiTests
{
    private static async Task<TestServer> StartAsync(string code, string extra = "", Func<Inlet.Hosting.InletOptions, Inlet.Hosting.InletOptions>? adjust = null)
    {
        var directory = TestServer.NewDirectory();
        var folder = FunctionFixtures.Write(directory, "fn", "index.js", code);
        var yaml = $$"""
            Functions:
              - FunctionName: fn
                Runtime: nodejs20.x
                Handler: index.handler
                Code: {{folder}}
                Environment: { Variables: { GREETING: hello } }
            {{extra}}
            """;
        return await TestServer.StartAsync(yaml, adjust, directory);
    }

    private const string Echo = """
        exports.handler = async (event, context) => {
            console.log('echo', JSON.stringify(event));
            if (event.fail) throw new RangeError('asked to fail');
            return { echo: event, greeting: process.env.GREETING, functionName: context.functionName,
                     arn: context.invokedFunctionArn, inletSecret: process.env.INLET_TEST_SECRET ?? null };
        };
        """;

    [Fact]
    public async Task AnEnvironment_AfterItsShareOfInvocations_IsReplacedBetweenInvocations()
    {
        await using var server = await StartAsync(
            "exports.handler = async () => ({ pid: process.pid, traceId: process.env._X_AMZN_TRACE_ID });",
            "FunctionSettings: { EnvironmentMaxInvocations: 2 }");
        var pids = new List<int>();
        var traceIds = new HashSet<string>();
        for (var i = 0; i < 5; i++)
        {
            using var response = await server.Http.PostAsync("/2015-03-31/functions/fn/invocations", new StringContent("{}"));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            Assert.False(response.Headers.Contains("X-Amz-Function-Error"), body);
            var result = JsonDocument.Parse(body).RootElement;
            pids.Add(result.GetProperty("pid").GetInt32());
            traceIds.Add(result.GetProperty("traceId").GetString()!);
        }

        // Two invocations an environment, each answered; the third and the fifth start a new process.
        Assert.Equal(pids[0], pids[1]);
        Assert.Equal(pids[2], pids[3]);
        Assert.Equal(3, pids.Distinct().Count());
        // The variable whose every value the runtime keeps changes with each invocation, as in Lambda.
        Assert.Equal(5, traceIds.Count);
    }

    [Fact]
    public async Task AwsCli_Invoke_ReturnsTheResultAndTheLogTail()
    {
        Environment.SetEnvironmentVariable("INLET_TEST_SECRET", "must-not-leak");
        await using var server = await StartAsync(Echo);
        var output = Path.Combine(server.Directory, "out.json");
        var result = await AwsCli.RunAsync(server, "lambda", "invoke", "--function-name", "fn", "--payload", """{"hello":"world"}""", "--log-type", "Tail", output);
        Assert.True(result.ExitCode == 0, result.Error);
        var response = result.Json;
        Assert.Equal(200, response.GetProperty("StatusCode").GetInt32());
        Assert.Equal("$LATEST", response.GetProperty("ExecutedVersion").GetString());
        var log = Encoding.UTF8.GetString(Convert.FromBase64String(response.GetProperty("LogResult").GetString()!));
        Assert.Contains("START RequestId:", log);
        Assert.Contains("echo {\"hello\":\"world\"}", log);
        Assert.Contains("REPORT RequestId:", log);

        var payload = JsonDocument.Parse(await File.ReadAllTextAsync(output)).RootElement;
        Assert.Equal("world", payload.GetProperty("echo").GetProperty("hello").GetString());
        Assert.Equal("hello", payload.GetProperty("greeting").GetString());
        Assert.Equal("fn", payload.GetProperty("functionName").GetString());
        Assert.Equal("arn:aws:lambda:us-east-1:000000000000:function:fn", payload.GetProperty("arn").GetString());
        // The function sees a Lambda environment, not Inlet's own.
        Assert.Equal(JsonValueKind.Null, payload.GetProperty("inletSecret").ValueKind);
    }

    [Fact]
    public async Task AwsCli_InvokeAFailingFunction_ReportsUnhandledWithTheErrorDocument()
    {
        await using var server = await StartAsync(Echo);
        var output = Path.Combine(server.Directory, "out.json");
        var result = await AwsCli.RunAsync(server, "lambda", "invoke", "--function-name", "arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST", "--payload", """{"fail":true}""", output);
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal("Unhandled", result.Json.GetProperty("FunctionError").GetString());
        var error = JsonDocument.Parse(await File.ReadAllTextAsync(output)).RootElement;
        Assert.Equal("RangeError", error.GetProperty("errorType").GetString());
        Assert.Equal("asked to fail", error.GetProperty("errorMessage").GetString());
        Assert.True(error.GetProperty("trace").GetArrayLength() > 0);
    }

    [Fact]
    public async Task AwsCli_InvokeUnknownFunction_IsResourceNotFound()
    {
        await using var server = await StartAsync(Echo);
        var result = await AwsCli.RunAsync(server, "lambda", "invoke", "--function-name", "nope", Path.Combine(server.Directory, "out.json"));
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("ResourceNotFoundException", result.Error);
        Assert.Contains("Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope", result.Error);
    }

    [Fact]
    public async Task AwsCli_InvokeEvent_Returns202()
    {
        await using var server = await StartAsync(Echo);
        var result = await AwsCli.RunAsync(server, "lambda", "invoke", "--function-name", "fn", "--invocation-type", "Event", "--payload", "{}", Path.Combine(server.Directory, "out.json"));
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal(202, result.Json.GetProperty("StatusCode").GetInt32());
    }

    [Fact]
    public async Task InvokeApi_InvalidJsonPayload_IsInvalidRequestContent()
    {
        await using var server = await StartAsync(Echo);
        using var response = await server.Http.PostAsync("/2015-03-31/functions/fn/invocations", new StringContent("{not json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("InvalidRequestContentException", response.Headers.GetValues("x-amzn-ErrorType").Single());
    }

    [Fact]
    public async Task EventInvocations_AreRetriedThenDeadLetteredAndCanBeRedriven()
    {
        const string Failing = """
            const fs = require('fs');
            exports.handler = async (event) => {
                fs.appendFileSync(process.env.ATTEMPTS, 'x');
                if (!fs.existsSync(process.env.HEALED)) throw new Error('not yet');
                return 'ok';
            };
            """;
        var directory = TestServer.NewDirectory();
        var folder = FunctionFixtures.Write(directory, "flaky", "index.js", Failing);
        var attempts = Path.Combine(FunctionFixtures.OutputFolder(directory), "attempts");
        var healed = Path.Combine(FunctionFixtures.OutputFolder(directory), "healed");
        await using var server = await TestServer.StartAsync(
            $$"""
            Functions:
              - FunctionName: flaky
                Runtime: nodejs20.x
                Handler: index.handler
                Code: {{folder}}
                Environment: { Variables: { ATTEMPTS: {{attempts}}, HEALED: {{healed}} } }
            """,
            o => o with { FunctionSettings = o.FunctionSettings with { AsyncRetryDelay = TimeSpan.FromMilliseconds(200) } },
            directory);
        using (var invoke = new HttpRequestMessage(HttpMethod.Post, "/2015-03-31/functions/flaky/invocations") { Content = new StringContent("""{"n":1}""") })
        {
            invoke.Headers.Add("X-Amz-Invocation-Type", "Event");
            using var response = await server.Http.SendAsync(invoke);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        JsonElement dead = default;
        for (var i = 0; i < 100; i++)
        {
            var list = (await server.GetJsonAsync("/api/invocations?status=dead")).GetProperty("invocations");
            if (list.GetArrayLength() > 0)
            {
                dead = list[0];
                break;
            }

            await Task.Delay(100);
        }

        Assert.Equal(JsonValueKind.Object, dead.ValueKind);
        Assert.Equal(3, File.ReadAllText(attempts).Length); // the first attempt and Lambda's two retries
        Assert.StartsWith("RetriesExhausted after 3 attempt(s): Error: not yet", dead.GetProperty("lastError").GetString());
        Assert.Equal("""{"n":1}""", dead.GetProperty("payload").GetString());

        File.WriteAllText(healed, "yes");
        using (var redrive = await server.Http.PostAsync($"/api/invocations/{dead.GetProperty("id").GetString()}/redrive", null))
        {
            Assert.Equal(HttpStatusCode.Accepted, redrive.StatusCode);
        }

        for (var i = 0; i < 100 && File.ReadAllText(attempts).Length < 4; i++)
        {
            await Task.Delay(100);
        }

        Assert.Equal(4, File.ReadAllText(attempts).Length);
        for (var i = 0; i < 50 && (await server.GetJsonAsync("/api/invocations?status=pending")).GetProperty("invocations").GetArrayLength() > 0; i++)
        {
            await Task.Delay(100);
        }

        Assert.Equal(0, (await server.GetJsonAsync("/api/invocations?status=dead")).GetProperty("invocations").GetArrayLength());
    }

    [Fact]
    public async Task HttpRuntime_PostsTheEventAndUsesTheReply()
    {
        var received = new TaskCompletionSource<string>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var hook = builder.Build();
        hook.MapPost("/hook", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            received.TrySetResult(await reader.ReadToEndAsync());
            return Results.Text("""{"disposition":"STOP_RULE_SET"}""", "application/json");
        });
        await hook.StartAsync();
        var url = hook.Urls.Single() + "/hook";

        await using var server = await TestServer.StartAsync($$"""
            Functions:
              - FunctionName: webhook
                Runtime: http
                Url: {{url}}
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: hook
                    Enabled: true
                    Actions:
                      - LambdaAction: { FunctionArn: webhook, InvocationType: RequestResponse }
                      - S3Action: { BucketName: after }
            """);
        var message = new MimeKit.MimeMessage();
        message.From.Add(MimeKit.MailboxAddress.Parse("a@sender.test"));
        message.To.Add(MimeKit.MailboxAddress.Parse("b@example.com"));
        message.Subject = "webhook";
        message.Body = new MimeKit.TextPart("plain") { Text = "x" };
        var id = await ReceiptRuleTests.SendAsync(server, message);
        await server.WaitForMessageAsync(id);
        Assert.Null(ReceiptRuleTests.ReadObject(server, "after", id));
        var posted = JsonDocument.Parse(await received.Task).RootElement;
        Assert.Equal("aws:ses", posted.GetProperty("Records")[0].GetProperty("eventSource").GetString());
    }

    [Fact]
    public async Task InletCli_InvokeAndLogs_PrintTheResultAndTheLog()
    {
        await using var server = await StartAsync(Echo);
        var eventFile = Path.Combine(server.Directory, "event.json");
        await File.WriteAllTextAsync(eventFile, """{"from":"cli"}""");
        var invoke = await RunInletAsync("invoke", "fn", "--event", eventFile, "--server", $"http://{server.Server.HttpEndPoint}");
        Assert.Equal(0, invoke.ExitCode);
        Assert.Contains("\"from\":\"cli\"", invoke.Output);
        Assert.Contains("REPORT RequestId:", invoke.Output);

        var logs = await RunInletAsync("logs", "fn", "--server", $"http://{server.Server.HttpEndPoint}");
        Assert.Equal(0, logs.ExitCode);
        Assert.Contains("START RequestId:", logs.Output);
        Assert.Contains("echo {\"from\":\"cli\"}", logs.Output);
    }

    internal static async Task<(int ExitCode, string Output)> RunInletAsync(params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "inlet.dll"));
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }
}
