using System.Diagnostics;
using System.Text.Json;
using MimeKit;

namespace Inlet.IntegrationTests;

/// <summary>
/// The event a function receives from the Lambda action, checked against the shapes of the public SES event
/// fixtures (aws-lambda-go, aws-lambda-dotnet, Powertools, aws-lambda-ses-forwarder): every field they carry is
/// there, with the same JSON type. Fields SES includes only for some messages are allowed to be missing.
/// </summary>
public class EventShapeTests
{
    private static readonly string[] Fixtures =
    [
        "aws-lambda-go/ses-lambda-event.json",
        "aws-lambda-dotnet/simple-email-event-lambda.json",
        "powertools-parser/ses-base.json",
        "aws-lambda-ses-forwarder/event.json",
    ];

    /// <summary>Present only when the message has the header, or when DMARC fails.</summary>
    private static readonly string[] Optional = ["cc", "bcc", "sender", "replyTo", "dmarcPolicy"];

    internal static string FixturePath(string name) =>
        Path.Combine(AppContext.BaseDirectory, "fixtures", name);

    [Fact]
    public async Task LambdaEvent_HasEveryFieldOfThePublicFixtures()
    {
        var directory = TestServer.NewDirectory();
        var folder = FunctionFixtures.Write(directory, "fn", "index.js", FunctionFixtures.SubjectDisposition);
        var eventLog = Path.Combine(FunctionFixtures.OutputFolder(directory), "events.jsonl");
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
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: lambda
                    Enabled: true
                    Recipients: [example.com]
                    Actions:
                      - LambdaAction: { FunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:fn", InvocationType: RequestResponse, TopicArn: "arn:aws:sns:us-east-1:000000000000:t" }
            """,
            directory: directory);
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("Jane Doe <janedoe@sender.test>"));
        message.To.Add(MailboxAddress.Parse("info@example.com"));
        message.Subject = "CONTINUE";
        message.MessageId = "shape-test@sender.test";
        message.Date = new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
        message.Body = new TextPart("plain") { Text = "hello" };
        var id = await ReceiptRuleTests.SendAsync(server, message);
        await server.WaitForMessageAsync(id);
        var ours = JsonDocument.Parse(File.ReadAllLines(eventLog).Single()).RootElement;

        foreach (var fixture in Fixtures)
        {
            var expected = JsonDocument.Parse(File.ReadAllText(FixturePath(fixture)).TrimStart('\uFEFF')).RootElement;
            var problems = new List<string>();
            Compare(expected, ours, "$", problems);
            Assert.True(problems.Count == 0, $"{fixture}:\n{string.Join("\n", problems)}");
        }

        var record = ours.GetProperty("Records").EnumerateArray().Single();
        Assert.Equal("aws:ses", record.GetProperty("eventSource").GetString());
        Assert.Equal("1.0", record.GetProperty("eventVersion").GetString());
        var mail = record.GetProperty("ses").GetProperty("mail");
        var receipt = record.GetProperty("ses").GetProperty("receipt");
        Assert.Equal(id, mail.GetProperty("messageId").GetString());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", mail.GetProperty("timestamp").GetString());
        Assert.True(receipt.GetProperty("processingTimeMillis").GetInt64() >= 1);
        Assert.Equal(["info@example.com"], receipt.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));
        // The event's action has exactly Lambda's three fields: the topic belongs to the notification.
        Assert.Equal(["type", "functionArn", "invocationType"], receipt.GetProperty("action").EnumerateObject().Select(p => p.Name));
        Assert.Equal("RequestResponse", receipt.GetProperty("action").GetProperty("invocationType").GetString());
        Assert.Equal(["returnPath", "from", "date", "to", "messageId", "subject"], mail.GetProperty("commonHeaders").EnumerateObject().Select(p => p.Name));
        Assert.Equal("Jane Doe <janedoe@sender.test>", mail.GetProperty("commonHeaders").GetProperty("from")[0].GetString());
        Assert.DoesNotContain("null", File.ReadAllLines(eventLog).Single());
    }

    private static void Compare(JsonElement expected, JsonElement actual, string path, List<string> problems)
    {
        if (Kind(expected) != Kind(actual))
        {
            problems.Add($"{path}: expected {Kind(expected)}, got {Kind(actual)}");
            return;
        }

        if (expected.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in expected.EnumerateObject())
            {
                if (actual.TryGetProperty(property.Name, out var value))
                {
                    Compare(property.Value, value, $"{path}.{property.Name}", problems);
                }
                else if (!Optional.Contains(property.Name))
                {
                    problems.Add($"{path}.{property.Name}: missing");
                }
            }
        }
        else if (expected.ValueKind == JsonValueKind.Array && expected.GetArrayLength() > 0 && actual.GetArrayLength() > 0)
        {
            Compare(expected[0], actual[0], path + "[0]", problems);
        }
    }

    private static string Kind(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.True or JsonValueKind.False => "boolean",
        var kind => kind.ToString().ToLowerInvariant(),
    };
}

/// <summary>The Node.js bootstrap's own tests (a mock Runtime API in Node), run as part of the suite.</summary>
public class NodeBootstrapTests
{
    [Fact]
    public async Task NodeBootstrap_SelfTests_Pass()
    {
        var root = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));
        var info = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
        info.ArgumentList.Add("--test");
        info.ArgumentList.Add("runtimes/nodejs/test/");
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var text = await output + await error;
        Assert.True(process.ExitCode == 0, text);
        Assert.Matches(@"# pass [1-9]\d*", text);
        Assert.Contains("# fail 0", text);
    }
}
