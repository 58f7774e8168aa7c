using System.Diagnostics;
using System.Text;
using System.Text.Json;
using MimeKit;

namespace Inlet.IntegrationTests;

/// <summary>The python3.x runtimes: real Python handlers run by Inlet's bootstrap, through the Lambda action and the aws CLI.</summary>
public class PythonRuntimeTests
{
    private static async Task<TestServer> StartAsync(params (string Name, string Runtime, string Handler, string File, string Code)[] functions)
    {
        var directory = TestServer.NewDirectory();
        var yaml = new StringBuilder("Functions:\n");
        foreach (var (name, runtime, handler, file, code) in functions)
        {
            var folder = FunctionFixtures.Write(directory, name, file, code);
            yaml.Append($"  - {{ FunctionName: {name}, Runtime: {runtime}, Handler: {handler}, Code: {folder}, Timeout: 10 }}\n");
        }

        yaml.Append("""
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: first
                    Enabled: true
                    Actions:
                      - LambdaAction: { FunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:fn", InvocationType: RequestResponse }
                      - S3Action: { BucketName: same-rule }
                  - Name: second
                    Enabled: true
                    Actions:
                      - S3Action: { BucketName: later-rule }
            ActiveReceiptRuleSet: main
            """);
        return await TestServer.StartAsync(yaml.ToString(), o => o with
        {
            Processing = o.Processing with { RetryInitialDelay = TimeSpan.FromSeconds(30), RetryMaxDelay = TimeSpan.FromSeconds(30) },
        }, directory);
    }

    private static MimeMessage Message(string subject)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("sender@sender.test"));
        message.To.Add(MailboxAddress.Parse("user@example.com"));
        message.Subject = subject;
        message.Body = new TextPart("plain") { Text = "body\n" };
        return message;
    }

    private static async Task<(AwsCli.Result Result, JsonElement Payload, string Log)> InvokeAsync(TestServer server, string function, string payload)
    {
        var output = Path.Combine(server.Directory, Guid.NewGuid().ToString("N") + ".json");
        var result = await AwsCli.RunAsync(server, "lambda", "invoke", "--function-name", function, "--payload", payload, "--log-type", "Tail", output);
        Assert.True(result.ExitCode == 0, result.Error);
        var log = Encoding.UTF8.GetString(Convert.FromBase64String(result.Json.GetProperty("LogResult").GetString()!));
        return (result, JsonDocument.Parse(await File.ReadAllTextAsync(output)).RootElement, log);
    }

    [Theory]
    [InlineData("STOP_RULE_SET", false, false)]
    [InlineData("STOP_RULE", false, true)]
    [InlineData("CONTINUE", true, true)]
    public async Task LambdaAction_PythonDisposition_SteersTheRules(string subject, bool sameRuleRuns, bool laterRuleRuns)
    {
        await using var server = await StartAsync(("fn", "python3.12", "lambda_function.lambda_handler", "lambda_function.py", FunctionFixtures.PythonSubjectDisposition));
        var id = await ReceiptRuleTests.SendAsync(server, Message(subject));
        await server.WaitForMessageAsync(id);
        Assert.Equal(sameRuleRuns, ReceiptRuleTests.ReadObject(server, "same-rule", id) is not null);
        Assert.Equal(laterRuleRuns, ReceiptRuleTests.ReadObject(server, "later-rule", id) is not null);
        Assert.Contains($"subject {subject}", await server.Http.GetStringAsync("/api/functions/fn/logs"));
    }

    [Fact]
    public async Task LambdaAction_PythonHandlerRaises_FailsTheActionWithThePythonErrorType()
    {
        await using var server = await StartAsync(("fn", "python3.12", "lambda_function.lambda_handler", "lambda_function.py", FunctionFixtures.PythonSubjectDisposition));
        var id = await ReceiptRuleTests.SendAsync(server, Message("raise"));
        await server.WaitForMessageAsync(id, "retrying");
        var action = (await server.GetDetailAsync(id)).GetProperty("trace").EnumerateArray().First(t => t.GetProperty("kind").GetString() == "action");
        Assert.StartsWith("ValueError: bad subject", action.GetProperty("error").GetString());
        Assert.Null(ReceiptRuleTests.ReadObject(server, "same-rule", id));
    }

    [Fact]
    public async Task AwsCli_InvokeNestedPythonHandler_GetsLambdasContext()
    {
        await using var server = await StartAsync(("fn", "python3.13", "pkg/mod.handler", "pkg/mod.py", FunctionFixtures.PythonContext));
        var (result, payload, log) = await InvokeAsync(server, "fn", """{"hello":"world"}""");
        Assert.Equal(200, result.Json.GetProperty("StatusCode").GetInt32());
        Assert.False(result.Json.TryGetProperty("FunctionError", out _));
        Assert.Equal("fn", payload.GetProperty("function_name").GetString());
        Assert.Equal("$LATEST", payload.GetProperty("function_version").GetString());
        Assert.Equal("arn:aws:lambda:us-east-1:000000000000:function:fn", payload.GetProperty("invoked_function_arn").GetString());
        // Lambda's Python runtime reads the memory size from the environment: a string.
        Assert.Equal("128", payload.GetProperty("memory_limit_in_mb").GetString());
        Assert.Matches("^[0-9a-f-]{36}$", payload.GetProperty("aws_request_id").GetString());
        Assert.Equal("/aws/lambda/fn", payload.GetProperty("log_group_name").GetString());
        Assert.Matches(@"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{16}$", payload.GetProperty("log_stream_name").GetString());
        Assert.InRange(payload.GetProperty("remaining").GetInt64(), 1, 10_000);
        Assert.Equal(JsonValueKind.Null, payload.GetProperty("identity_id").ValueKind);
        Assert.Equal(JsonValueKind.Null, payload.GetProperty("client_context").ValueKind);
        Assert.Equal(Path.Combine(server.Directory, "functions-src", "fn"), payload.GetProperty("first_path").GetString());
        Assert.Equal("AWS_Lambda_python3.13", payload.GetProperty("execution_env").GetString());
        Assert.False(payload.GetProperty("mark_visible").GetBoolean());
        Assert.Equal(await MachinePythonHasBoto3Async(), payload.GetProperty("boto3").GetBoolean());

        Assert.Contains("module loaded", log);
        Assert.Contains("python says world", log);
        Assert.Matches(@"\[INFO\]\t\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\t" + payload.GetProperty("aws_request_id").GetString() + @"\tthrough logging", log);
        Assert.Contains("REPORT RequestId: " + payload.GetProperty("aws_request_id").GetString(), log);
    }

    [Fact]
    public async Task AwsCli_PythonHandlerRaises_ReturnsTheErrorShapeOfLambdasPythonRuntime()
    {
        await using var server = await StartAsync(("fn", "python3.11", "pkg/mod.handler", "pkg/mod.py", FunctionFixtures.PythonContext));
        var (result, error, log) = await InvokeAsync(server, "fn", """{"fail":true}""");
        Assert.Equal("Unhandled", result.Json.GetProperty("FunctionError").GetString());
        Assert.Equal(["errorMessage", "errorType", "requestId", "stackTrace"], error.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("KeyError", error.GetProperty("errorType").GetString());
        Assert.Equal("'asked to fail'", error.GetProperty("errorMessage").GetString());
        Assert.Matches("^[0-9a-f-]{36}$", error.GetProperty("requestId").GetString());
        var frame = Assert.Single(error.GetProperty("stackTrace").EnumerateArray()).GetString()!;
        Assert.Matches("""^  File ".*/pkg/mod\.py", line \d+, in handler\n    raise KeyError\("asked to fail"\)\n$""", frame);
        Assert.Contains("[ERROR] KeyError: 'asked to fail'\nTraceback (most recent call last):", log);

        var (marshal, marshalError, _) = await InvokeAsync(server, "fn", """{"unserialisable":true}""");
        Assert.Equal("Unhandled", marshal.Json.GetProperty("FunctionError").GetString());
        Assert.Equal("Runtime.MarshalError", marshalError.GetProperty("errorType").GetString());
        Assert.Equal("Unable to marshal response: Object of type set is not JSON serializable", marshalError.GetProperty("errorMessage").GetString());
    }

    [Theory]
    [InlineData("lambda_function.nope", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'lambda_function'")]
    [InlineData("missing.handler", "Runtime.ImportModuleError", "Unable to import module 'missing': No module named 'missing'")]
    [InlineData("broken.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module 'broken': ")]
    [InlineData("throws.handler", "RuntimeError", "broken at import")]
    public async Task AwsCli_HandlerThatCannotLoad_GivesTheInitError(string handler, string errorType, string message)
    {
        var directory = TestServer.NewDirectory();
        var folder = FunctionFixtures.Write(directory, "fn", "lambda_function.py", FunctionFixtures.PythonSubjectDisposition);
        await File.WriteAllTextAsync(Path.Combine(folder, "broken.py"), "def handler(event, context)\n    return 1\n");
        await File.WriteAllTextAsync(Path.Combine(folder, "throws.py"), "print('about to fail')\nraise RuntimeError('broken at import')\n");
        await using var server = await TestServer.StartAsync($"Functions: [{{ FunctionName: fn, Runtime: python3.12, Handler: {handler}, Code: {folder} }}]", null, directory);
        var (result, error, log) = await InvokeAsync(server, "fn", "{}");
        Assert.Equal("Unhandled", result.Json.GetProperty("FunctionError").GetString());
        Assert.Equal(errorType, error.GetProperty("errorType").GetString());
        Assert.StartsWith(message, error.GetProperty("errorMessage").GetString());
        Assert.Equal(JsonValueKind.Array, error.GetProperty("stackTrace").ValueKind);
        // The init's own output is in the first invocation's log tail, ahead of its END line.
        var reported = log.IndexOf($"[ERROR] {errorType}: {message}", StringComparison.Ordinal);
        Assert.True(reported >= 0, log);
        Assert.True(reported < log.IndexOf("END RequestId:", StringComparison.Ordinal), log);
        if (handler == "throws.handler")
        {
            Assert.Contains("about to fail", log);
        }
    }

    private static async Task<bool> MachinePythonHasBoto3Async()
    {
        // The interpreter functions get: when the tests run as root, the first python3 the unprivileged user can run.
        using var process = Process.Start(new ProcessStartInfo(Inlet.Functions.FunctionSandbox.Create(null).ResolveProgram("python3"), ["-c", "import boto3"]) { RedirectStandardError = true })!;
        await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0;
    }
}
