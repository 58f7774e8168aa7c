using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MimeKit;

namespace Inlet.IntegrationTests;

/// <summary>
/// A function calls AWS from inside exactly as on Lambda: the SDK the runtime provides, the role's temporary
/// credentials and AWS_ENDPOINT_URL, with nothing in its configuration. The calls appear in the message's trace.
/// </summary>
public class FunctionAwsAccessTests
{
    /// <summary>Runs where the Node runtime's AWS SDK v3 was installed by the build (npm on the PATH).</summary>
    public sealed class NodeSdkFactAttribute : FactAttribute
    {
        public NodeSdkFactAttribute()
        {
            if (new Inlet.Functions.FunctionHost(new Inlet.Functions.FunctionCredentials(TimeProvider.System), "000000000000", Inlet.Functions.FunctionSandbox.None).NodeSdkPath is null)
            {
                Skip = "the Node runtime's AWS SDK v3 is not installed (npm was not on the PATH when the server was built)";
            }
        }
    }

    private static async Task<JsonElement> InvokeAsync(TestServer server, string function, string payload = "{}")
    {
        using var response = await server.Http.PostAsync($"/2015-03-31/functions/{function}/invocations", new StringContent(payload, Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        Assert.False(response.Headers.Contains("X-Amz-Function-Error"), body);
        return JsonDocument.Parse(body).RootElement;
    }

    private static string Functions(string folder, string name = "fn", string extra = "") => $$"""
        Functions:
          - FunctionName: {{name}}
            Runtime: nodejs20.x
            Handler: index.handler
            Role: arn:aws:iam::000000000000:role/service-role/mail-reader
            Code: {{folder}}
            Timeout: 20
        {{extra}}
        """;

    [NodeSdkFact]
    public async Task Function_GetCallerIdentity_IsTheAssumedRoleOfItsRoleWithTemporaryKeys()
    {
        var directory = TestServer.NewDirectory();
        var folder = FunctionFixtures.Write(directory, "fn", "index.js", """
            const { STSClient, GetCallerIdentityCommand } = require('@aws-sdk/client-sts');
            exports.handler = async () => {
              const identity = await new STSClient({}).send(new GetCallerIdentityCommand({}));
              return { arn: identity.Arn, account: identity.Account, userId: identity.UserId, env: process.env };
            };
            """);
        await using var server = await TestServer.StartAsync(Functions(folder), directory: directory);

        var result = await InvokeAsync(server, "fn");

        Assert.Equal("arn:aws:sts::000000000000:assumed-role/mail-reader/fn", result.GetProperty("arn").GetString());
        Assert.Equal("000000000000", result.GetProperty("account").GetString());
        Assert.EndsWith(":fn", result.GetProperty("userId").GetString());
        var env = result.GetProperty("env");
        Assert.StartsWith("ASIA", env.GetProperty("AWS_ACCESS_KEY_ID").GetString());
        Assert.False(string.IsNullOrEmpty(env.GetProperty("AWS_SESSION_TOKEN").GetString()));
        Assert.Equal($"http://{server.Server.HttpEndPoint}", env.GetProperty("AWS_ENDPOINT_URL").GetString());
        // Inlet's own configured keys are nowhere in the function's environment.
        Assert.DoesNotContain(env.EnumerateObject(), p => p.Value.GetString() is "inlet" or "inlet-secret");
    }

    [NodeSdkFact]
    public async Task Function_ManagementCall_IsRefusedOutsideTheDataPlane()
    {
        var directory = TestServer.NewDirectory();
        var folder = FunctionFixtures.Write(directory, "fn", "index.js", """
            const { SESClient, CreateReceiptRuleSetCommand } = require('@aws-sdk/client-ses');
            exports.handler = async () => {
              try {
                await new SESClient({}).send(new CreateReceiptRuleSetCommand({ RuleSetName: 'sneaky' }));
                return { created: true };
              } catch (e) {
                return { error: e.name, message: e.message };
              }
            };
            """);
        await using var server = await TestServer.StartAsync(Functions(folder), directory: directory);

        var result = await InvokeAsync(server, "fn");

        Assert.Equal("AccessDenied", result.GetProperty("error").GetString());
        Assert.Contains("assumed-role/mail-reader/fn is not authorized to perform: ses:CreateReceiptRuleSet", result.GetProperty("message").GetString());
        using var sets = await server.Http.GetAsync("/api/messages");
        Assert.True(sets.IsSuccessStatusCode);
    }

    [NodeSdkFact]
    public async Task LambdaAction_FunctionReadsTheStoredMessageFromS3_CallAppearsInTheTrace()
    {
        var directory = TestServer.NewDirectory();
        // The shape of the SES guide's S3-reading functions: the event names the message; the body is read from S3.
        var folder = FunctionFixtures.Write(directory, "reader", "index.js", """
            const { S3Client, GetObjectCommand } = require('@aws-sdk/client-s3');
            const s3 = new S3Client({});
            exports.handler = async (event) => {
              const id = event.Records[0].ses.mail.messageId;
              const object = await s3.send(new GetObjectCommand({ Bucket: 'mail', Key: 'inbox/' + id }));
              const body = await object.Body.transformToString();
              return { disposition: body.includes('drop me') ? 'STOP_RULE_SET' : 'CONTINUE' };
            };
            """);
        await using var server = await TestServer.StartAsync(Functions(folder, "reader", """
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: store-then-read
                    Enabled: true
                    Recipients: [example.com]
                    Actions:
                      - S3Action: { BucketName: mail, ObjectKeyPrefix: inbox/ }
                      - LambdaAction: { FunctionArn: reader, InvocationType: RequestResponse }
                      - AddHeaderAction: { HeaderName: X-Kept, HeaderValue: "yes" }
            """), directory: directory);

        var id = await SendAsync(server, "please drop me");
        await server.WaitForMessageAsync(id);
        var trace = (await server.GetDetailAsync(id)).GetProperty("trace").EnumerateArray().ToList();

        var call = Assert.Single(trace, t => t.GetProperty("kind").GetString() == "aws-call");
        Assert.Equal($"GetObject mail/inbox/{id} 200", call.GetProperty("detail").GetString());
        Assert.Equal("Lambda", call.GetProperty("actionType").GetString());
        Assert.Contains(trace, t => t.GetProperty("kind").GetString() == "action" && t.GetProperty("outcome").GetString() == "stop-rule-set");
        Assert.DoesNotContain(trace, t => t.TryGetProperty("actionType", out var type) && type.GetString() == "AddHeader");
    }

    /// <summary>Runs where the python3 that functions get has boto3 (CI installs Debian's python3-boto3).</summary>
    public sealed class FunctionBoto3FactAttribute : FactAttribute
    {
        public FunctionBoto3FactAttribute()
        {
            var python = Inlet.Functions.FunctionSandbox.Create(null).ResolveProgram("python3");
            try
            {
                using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(python, ["-c", "import boto3"]) { RedirectStandardError = true })!;
                process.WaitForExit();
                if (process.ExitCode != 0)
                {
                    Skip = $"boto3 is not installed for {python}, the python3 functions run with";
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                Skip = "python3 is not installed";
            }
        }
    }

    [FunctionBoto3Fact]
    public async Task PythonFunction_Boto3_ReadsTheMessageFromS3AndKnowsItsRole()
    {
        var directory = TestServer.NewDirectory();
        var folder = FunctionFixtures.Write(directory, "pyreader", "lambda_function.py", """
            import boto3

            s3 = boto3.client("s3")

            def lambda_handler(event, context):
                mail = event["Records"][0]["ses"]["mail"]
                body = s3.get_object(Bucket="mail", Key="inbox/" + mail["messageId"])["Body"].read().decode()
                identity = boto3.client("sts").get_caller_identity()
                print("caller", identity["Arn"])
                return {"disposition": "STOP_RULE_SET" if "drop me" in body else "CONTINUE"}
            """);
        await using var server = await TestServer.StartAsync($$"""
            Functions:
              - FunctionName: pyreader
                Runtime: python3.12
                Handler: lambda_function.lambda_handler
                Role: arn:aws:iam::000000000000:role/py-reader
                Code: {{folder}}
                MemorySize: 256
                Timeout: 20
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: store-then-read
                    Enabled: true
                    Recipients: [example.com]
                    Actions:
                      - S3Action: { BucketName: mail, ObjectKeyPrefix: inbox/ }
                      - LambdaAction: { FunctionArn: pyreader, InvocationType: RequestResponse }
            """, directory: directory);

        var id = await SendAsync(server, "please drop me");
        await server.WaitForMessageAsync(id);
        var trace = (await server.GetDetailAsync(id)).GetProperty("trace").EnumerateArray().ToList();

        Assert.Equal(
            [$"GetObject mail/inbox/{id} 200", "GetCallerIdentity 200"],
            trace.Where(t => t.GetProperty("kind").GetString() == "aws-call").Select(t => t.GetProperty("detail").GetString()));
        Assert.Contains(trace, t => t.GetProperty("kind").GetString() == "action" && t.GetProperty("outcome").GetString() == "stop-rule-set");
        var logs = await server.Http.GetStringAsync("/api/functions/pyreader/logs");
        Assert.Contains("caller arn:aws:sts::000000000000:assumed-role/py-reader/pyreader", logs);
    }

    [Fact]
    public async Task Function_OverItsMemorySize_IsStoppedAsLambdaStopsIt()
    {
        var directory = TestServer.NewDirectory();
        var folder = FunctionFixtures.Write(directory, "hog", "index.js", """
            exports.handler = async () => {
              const hoard = [];
              for (let i = 0; i < 400; i++) { hoard.push(Buffer.alloc(1024 * 1024, 1)); await new Promise(r => setImmediate(r)); }
              return { kept: hoard.length };
            };
            """);
        await using var server = await TestServer.StartAsync($$"""
            Functions:
              - FunctionName: hog
                Runtime: nodejs20.x
                Handler: index.handler
                Code: {{folder}}
                MemorySize: 128
                Timeout: 20
            """, directory: directory);

        using var response = await server.Http.PostAsync("/2015-03-31/functions/hog/invocations", new StringContent("{}"));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal("Unhandled", response.Headers.GetValues("X-Amz-Function-Error").Single());
        var error = JsonDocument.Parse(body).RootElement;
        Assert.Equal("Runtime.ExitError", error.GetProperty("errorType").GetString());
        Assert.EndsWith("Error: Runtime exited with error: signal: killed", error.GetProperty("errorMessage").GetString());
    }

    [Fact]
    public async Task Function_RunningUnprivileged_CannotReadInletsDatabaseOrConfiguration()
    {
        if (Inlet.Functions.FunctionSandbox.Create(null).User is null)
        {
            // Not root: functions run as the same user as Inlet, and nothing separates them (documented).
            return;
        }

        var directory = TestServer.NewDirectory();
        var config = Path.Combine(directory, "inlet.yaml");
        var folder = FunctionFixtures.Write(directory, "peek", "index.js", $$"""
            const fs = require('fs');
            const attempt = (path) => { try { fs.readFileSync(path); return 'read'; } catch (e) { return e.code; } };
            exports.handler = async () => ({
              database: attempt({{JsonSerializer.Serialize(Path.Combine(directory, "inlet.db"))}}),
              configuration: attempt({{JsonSerializer.Serialize(config)}}),
              spool: attempt({{JsonSerializer.Serialize(Path.Combine(directory, "spool"))}}),
              tmp: (() => { const p = require('path').join(process.env.TMPDIR, 'x'); fs.writeFileSync(p, 'ok'); return fs.readFileSync(p, 'utf8'); })(),
              uid: process.getuid(),
            });
            """);
        var yaml = $$"""
            Credentials: [{ AccessKeyId: inlet, SecretAccessKey: inlet-secret }]
            Functions:
              - FunctionName: peek
                Runtime: nodejs20.x
                Handler: index.handler
                Code: {{folder}}
            """;
        await File.WriteAllTextAsync(config, yaml);
        await using var server = await TestServer.StartAsync(yaml, o => o with { SourceFile = config }, directory: directory);

        var result = await InvokeAsync(server, "peek");

        Assert.Equal("EACCES", result.GetProperty("database").GetString());
        Assert.Equal("EACCES", result.GetProperty("configuration").GetString());
        Assert.NotEqual("read", result.GetProperty("spool").GetString());
        Assert.Equal("ok", result.GetProperty("tmp").GetString());
        Assert.NotEqual(0, result.GetProperty("uid").GetInt32());
    }

    private static async Task<string> SendAsync(TestServer server, string body)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("sender@sender.test"));
        message.To.Add(MailboxAddress.Parse("info@example.com"));
        message.Subject = "reader";
        message.Body = new TextPart("plain") { Text = body };
        return await ReceiptRuleTests.SendAsync(server, message);
    }
}
