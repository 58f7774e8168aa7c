using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using MimeKit;

namespace Inlet.IntegrationTests;

/// <summary>A real HTTP subscriber on port 0 that records what SNS sends it, and can play dead.</summary>
internal sealed class Subscriber : IAsyncDisposable
{
    private readonly WebApplication _app;

    public sealed record Request(IReadOnlyDictionary<string, string> Headers, string Body)
    {
        public JsonElement Json => JsonDocument.Parse(Body).RootElement;

        public string Type => Headers["x-amz-sns-message-type"];
    }

    private Subscriber(WebApplication app) => _app = app;

    public ConcurrentQueue<Request> Received { get; } = new();

    /// <summary>How many more requests to answer with 500.</summary>
    public int FailNext { get; set; }

    public string Url => _app.Urls.Single() + "/hook";

    public static async Task<Subscriber> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var subscriber = new Subscriber(app);
        app.MapPost("/hook", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            var body = await reader.ReadToEndAsync();
            if (subscriber.FailNext > 0)
            {
                subscriber.FailNext--;
                return Results.StatusCode(500);
            }

            subscriber.Received.Enqueue(new Request(request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()), body));
            return Results.Ok();
        });
        await app.StartAsync();
        return subscriber;
    }

    public async Task<List<Request>> WaitForAsync(Func<Request, bool> match, int count = 1)
    {
        for (var i = 0; i < 200; i++)
        {
            var found = Received.Where(match).ToList();
            if (found.Count >= count)
            {
                return found;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"the subscriber did not receive {count} matching request(s); it has {Received.Count}: {string.Join(", ", Received.Select(r => r.Type))}");
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

public class NotificationTests
{
    private const string TopicArn = "arn:aws:sns:us-east-1:000000000000:mail-events";

    /// <summary>An HttpClient that trusts Inlet's own CA, as a subscriber would once told to.</summary>
    private static HttpClient TrustingClient(TestServer server)
    {
        var ca = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(server.Server.TlsDirectory, "ca.crt"));
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return certificate is X509Certificate2 c && chain.Build(c);
        };
        return new HttpClient(handler);
    }

    /// <summary>Subscribes the endpoint with the aws CLI and confirms it by visiting the SubscribeURL, as a subscriber does.</summary>
    private static async Task ConfirmAsync(TestServer server, Subscriber subscriber, string extra = "")
    {
        var arguments = new List<string> { "sns", "subscribe", "--topic-arn", TopicArn, "--protocol", "http", "--notification-endpoint", subscriber.Url };
        if (extra.Length > 0)
        {
            arguments.AddRange(["--attributes", extra]);
        }

        var subscribe = await AwsCli.RunAsync(server, [.. arguments]);
        Assert.True(subscribe.ExitCode == 0, subscribe.Error);
        Assert.Equal("pending confirmation", subscribe.Json.GetProperty("SubscriptionArn").GetString());
        var confirmation = (await subscriber.WaitForAsync(r => r.Type == "SubscriptionConfirmation")).Last();
        Assert.False(confirmation.Headers.ContainsKey("x-amz-sns-subscription-arn"));
        using var http = TrustingClient(server);
        var visit = await http.GetStringAsync(confirmation.Json.GetProperty("SubscribeURL").GetString());
        Assert.Contains("<ConfirmSubscriptionResult><SubscriptionArn>arn:aws:sns:us-east-1:000000000000:mail-events:", visit);
    }

    private static MimeMessage Message(string subject)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("sender@sender.test"));
        message.To.Add(MailboxAddress.Parse("user@example.com"));
        message.Subject = subject;
        message.Body = new TextPart("plain") { Text = "Hello, topic.\nLine two: café\n" };
        return message;
    }

    private const string FastRetries = """'{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":1,"numRetries":3}}}'""";

    private static string Rules(string signatureVersion, string actions) => $$$"""
        Topics:
          - Name: mail-events
            SignatureVersion: "{{{signatureVersion}}}"
            DeliveryPolicy: {{{FastRetries}}}
        ReceiptRuleSets:
          - RuleSetName: main
            Rules:
              - Name: notify
                Enabled: true
                Actions:
        {{{actions}}}
        """;

    [Theory]
    [InlineData("1")]
    [InlineData("2")]
    public async Task EveryActionType_PublishesSignedNotificationsThatAnIndependentVerifierAccepts(string version)
    {
        await using var subscriber = await Subscriber.StartAsync();
        await using var server = await TestServer.StartAsync(Rules(version, $$"""
                      - S3Action: { BucketName: mail, ObjectKeyPrefix: inbox/, TopicArn: {{TopicArn}} }
                      - SNSAction: { TopicArn: {{TopicArn}} }
                      - SNSAction: { TopicArn: {{TopicArn}}, Encoding: Base64 }
                      - BounceAction: { SmtpReplyCode: "550", StatusCode: 5.1.1, Message: gone, Sender: mailer-daemon@example.com, TopicArn: {{TopicArn}} }
                      - StopAction: { Scope: RuleSet, TopicArn: {{TopicArn}} }
            """));
        await ConfirmAsync(server, subscriber);
        var id = await ReceiptRuleTests.SendAsync(server, Message("notify me"));
        var notifications = await subscriber.WaitForAsync(r => r.Type == "Notification", 5);

        var messages = notifications.Select(n => JsonDocument.Parse(n.Json.GetProperty("Message").GetString()!).RootElement).ToList();
        // A standard SNS topic does not promise order, and deliveries run side by side: the set is what is promised.
        Assert.Equal(new[] { "Bounce", "S3", "SNS", "SNS", "Stop" }, messages.Select(m => m.GetProperty("receipt").GetProperty("action").GetProperty("type").GetString()).Order(StringComparer.Ordinal));
        Assert.All(messages, m => Assert.Equal("Received", m.GetProperty("notificationType").GetString()));
        Assert.All(messages, m => Assert.Equal(id, m.GetProperty("mail").GetProperty("messageId").GetString()));
        Assert.All(notifications, n => Assert.Equal("Amazon SES Email Receipt Notification", n.Json.GetProperty("Subject").GetString()));

        // Each notification is picked by its action, not by when it arrived.
        JsonElement Of(string type, string? encoding = null) => messages.Single(m =>
            m.GetProperty("receipt").GetProperty("action") is var a && a.GetProperty("type").GetString() == type
            && (encoding is null || a.GetProperty("encoding").GetString() == encoding));

        var s3Message = Of("S3");
        var s3 = s3Message.GetProperty("receipt").GetProperty("action");
        Assert.Equal(["type", "topicArn", "bucketName", "objectKeyPrefix", "objectKey"], s3.EnumerateObject().Select(p => p.Name));
        Assert.Equal("inbox/" + id, s3.GetProperty("objectKey").GetString());
        Assert.False(s3Message.TryGetProperty("content", out _));

        var utf8 = Of("SNS", "UTF8");
        Assert.Contains("Line two: café", utf8.GetProperty("content").GetString());
        Assert.StartsWith("Return-Path: <sender@sender.test>\r\nReceived: ", utf8.GetProperty("content").GetString());
        Assert.Contains("Subject: notify me", Encoding.UTF8.GetString(Convert.FromBase64String(Of("SNS", "BASE64").GetProperty("content").GetString()!)));
        Assert.Equal("mailer-daemon@example.com", Of("Bounce").GetProperty("receipt").GetProperty("action").GetProperty("sender").GetString());

        // The HTTP delivery as SNS makes it.
        var first = notifications[0];
        Assert.Equal("text/plain; charset=UTF-8", first.Headers["content-type"]);
        Assert.Equal("Amazon Simple Notification Service Agent", first.Headers["user-agent"]);
        Assert.Equal(TopicArn, first.Headers["x-amz-sns-topic-arn"]);
        Assert.StartsWith(TopicArn + ":", first.Headers["x-amz-sns-subscription-arn"]);
        Assert.Equal(first.Json.GetProperty("MessageId").GetString(), first.Headers["x-amz-sns-message-id"]);
        Assert.Equal(["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL"], first.Json.EnumerateObject().Select(p => p.Name));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", first.Json.GetProperty("Timestamp").GetString());
        Assert.Equal(version, first.Json.GetProperty("SignatureVersion").GetString());

        // Every message, the confirmation included, verifies with Node's crypto against the served certificate.
        var files = new List<string>();
        foreach (var (request, i) in subscriber.Received.Select((r, i) => (r, i)))
        {
            var file = Path.Combine(server.Directory, $"sns-{i}.json");
            await File.WriteAllTextAsync(file, request.Body);
            files.Add(file);
        }

        var results = await VerifyAsync(server, files);
        Assert.Equal(6, results.Count);
        Assert.All(results, r =>
        {
            Assert.True(r.GetProperty("valid").GetBoolean(), r.ToString());
            Assert.True(r.GetProperty("urlShape").GetBoolean(), r.ToString());
            Assert.Equal(version, r.GetProperty("version").GetString());
        });
    }

    private static async Task<List<JsonElement>> VerifyAsync(TestServer server, List<string> files)
    {
        var info = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "verify-sns.js"));
        foreach (var file in files)
        {
            info.ArgumentList.Add(file);
        }

        info.Environment["NODE_EXTRA_CA_CERTS"] = Path.Combine(server.Server.TlsDirectory, "ca.crt");
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, error);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
    }

    [Fact]
    public async Task Deliveries_AreRetriedUntilTheSubscriberIsBack()
    {
        await using var subscriber = await Subscriber.StartAsync();
        await using var server = await TestServer.StartAsync(Rules("1", $$"""
                      - SNSAction: { TopicArn: {{TopicArn}} }
            """));
        await ConfirmAsync(server, subscriber);
        subscriber.FailNext = 2;
        await ReceiptRuleTests.SendAsync(server, Message("retry me"));
        var notification = (await subscriber.WaitForAsync(r => r.Type == "Notification")).Single();
        List<JsonElement> deliveries = [];
        for (var i = 0; i < 100 && deliveries.Count == 0; i++)
        {
            // The subscriber has the message; the dispatcher records the outcome right after.
            deliveries = (await server.GetJsonAsync("/api/deliveries?status=delivered")).GetProperty("deliveries").EnumerateArray()
                .Where(d => d.GetProperty("messageType").GetString() == "Notification").ToList();
            await Task.Delay(20);
        }

        var delivery = Assert.Single(deliveries);
        Assert.Equal(3, delivery.GetProperty("attempts").GetInt32());
        Assert.Equal(notification.Headers["x-amz-sns-message-id"], delivery.GetProperty("messageId").GetString());
    }

    [Fact]
    public async Task Deliveries_ToADeadEndpoint_EndAsFailedAndAreListed()
    {
        await using var subscriber = await Subscriber.StartAsync();
        await using var server = await TestServer.StartAsync(Rules("1", $$"""
                      - SNSAction: { TopicArn: {{TopicArn}} }
            """));
        await ConfirmAsync(server, subscriber);
        subscriber.FailNext = 100;
        await ReceiptRuleTests.SendAsync(server, Message("nobody home"));
        JsonElement failed = default;
        for (var i = 0; i < 150 && failed.ValueKind != JsonValueKind.Object; i++)
        {
            var list = (await server.GetJsonAsync("/api/deliveries?status=failed")).GetProperty("deliveries");
            failed = list.GetArrayLength() > 0 ? list[0] : default;
            await Task.Delay(50);
        }

        Assert.Equal(JsonValueKind.Object, failed.ValueKind);
        Assert.Equal(4, failed.GetProperty("attempts").GetInt32());
        Assert.Contains("gave up after 4 attempt(s): the endpoint answered 500", failed.GetProperty("lastError").GetString());

        var cli = await FunctionApiTests.RunInletAsync("deliveries", "--failed", "--server", $"http://{server.Server.HttpEndPoint}");
        Assert.Equal(0, cli.ExitCode);
        Assert.Contains("failed", cli.Output);
        Assert.Contains("gave up after 4 attempt(s)", cli.Output);

        // Re-driven once the endpoint is back: the same delivery goes out again and arrives.
        subscriber.FailNext = 0;
        var id = failed.GetProperty("id").GetString();
        using (var redrive = await server.Http.PostAsync($"/api/deliveries/{id}/redrive", null))
        {
            Assert.Equal(System.Net.HttpStatusCode.Accepted, redrive.StatusCode);
        }

        var delivered = false;
        for (var i = 0; i < 150 && !delivered; i++)
        {
            delivered = (await server.GetJsonAsync("/api/deliveries?status=delivered")).GetProperty("deliveries").EnumerateArray().Any(d => d.GetProperty("id").GetString() == id);
            await Task.Delay(50);
        }

        Assert.True(delivered, "the re-driven delivery did not arrive");
        using var again = await server.Http.PostAsync($"/api/deliveries/{id}/redrive", null);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task RawMessageDelivery_PostsTheBareMessage()
    {
        await using var subscriber = await Subscriber.StartAsync();
        await using var server = await TestServer.StartAsync(Rules("1", $$"""
                      - SNSAction: { TopicArn: {{TopicArn}} }
            """));
        await ConfirmAsync(server, subscriber, "RawMessageDelivery=true");
        await ReceiptRuleTests.SendAsync(server, Message("raw"));
        var raw = (await subscriber.WaitForAsync(r => r.Type == "Notification")).Single();
        Assert.Equal("true", raw.Headers["x-amz-sns-rawdelivery"]);
        Assert.Equal("Received", raw.Json.GetProperty("notificationType").GetString());
    }

    [Fact]
    public async Task LambdaSubscription_ReceivesTheSnsEventAndReadsTheSesNotification()
    {
        var directory = TestServer.NewDirectory();
        var seen = Path.Combine(FunctionFixtures.OutputFolder(directory), "seen.json");
        var folder = FunctionFixtures.Write(directory, "reader", "index.js", """
            const fs = require('fs');
            exports.handler = async (event) => {
                const record = event.Records[0];
                const notification = JSON.parse(record.Sns.Message);
                fs.writeFileSync(process.env.SEEN, JSON.stringify({
                    source: record.EventSource, subject: record.Sns.Subject, type: notification.notificationType,
                    action: notification.receipt.action.type, messageId: notification.mail.messageId,
                    certUrl: record.Sns.SigningCertUrl, attributes: record.Sns.MessageAttributes }));
            };
            """);
        await using var server = await TestServer.StartAsync(
            $$"""
            Functions:
              - FunctionName: reader
                Runtime: nodejs20.x
                Handler: index.handler
                Code: {{folder}}
                Environment: { Variables: { SEEN: {{seen}} } }
            Topics:
              - Name: mail-events
                Subscriptions:
                  - Protocol: lambda
                    Endpoint: arn:aws:lambda:us-east-1:000000000000:function:reader
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: notify
                    Enabled: true
                    Actions:
                      - S3Action: { BucketName: mail, TopicArn: {{TopicArn}} }
            """,
            directory: directory);
        var id = await ReceiptRuleTests.SendAsync(server, Message("to lambda"));
        for (var i = 0; i < 100 && !File.Exists(seen); i++)
        {
            await Task.Delay(100);
        }

        var result = JsonDocument.Parse(await File.ReadAllTextAsync(seen)).RootElement;
        Assert.Equal("aws:sns", result.GetProperty("source").GetString());
        Assert.Equal("Amazon SES Email Receipt Notification", result.GetProperty("subject").GetString());
        Assert.Equal("Received", result.GetProperty("type").GetString());
        Assert.Equal("S3", result.GetProperty("action").GetString());
        Assert.Equal(id, result.GetProperty("messageId").GetString());
        Assert.EndsWith(".pem", result.GetProperty("certUrl").GetString());
        Assert.Equal(JsonValueKind.Object, result.GetProperty("attributes").ValueKind);
    }

    [Fact]
    public async Task SnsApi_ManagesTopicsAndSubscriptionsWithTheAwsCli()
    {
        await using var subscriber = await Subscriber.StartAsync();
        await using var server = await TestServer.StartAsync("");
        var create = await AwsCli.RunAsync(server, "sns", "create-topic", "--name", "api-topic", "--attributes", "DisplayName=Mail,SignatureVersion=2");
        Assert.True(create.ExitCode == 0, create.Error);
        var arn = create.Json.GetProperty("TopicArn").GetString()!;
        Assert.Equal("arn:aws:sns:us-east-1:000000000000:api-topic", arn);
        Assert.Equal(arn, (await AwsCli.RunAsync(server, "sns", "create-topic", "--name", "api-topic")).Json.GetProperty("TopicArn").GetString());

        var attributes = (await AwsCli.RunAsync(server, "sns", "get-topic-attributes", "--topic-arn", arn)).Json.GetProperty("Attributes");
        Assert.Equal("Mail", attributes.GetProperty("DisplayName").GetString());
        Assert.Equal("2", attributes.GetProperty("SignatureVersion").GetString());
        Assert.Contains("defaultHealthyRetryPolicy", attributes.GetProperty("EffectiveDeliveryPolicy").GetString());

        var set = await AwsCli.RunAsync(server, "sns", "set-topic-attributes", "--topic-arn", arn, "--attribute-name", "SignatureVersion", "--attribute-value", "3");
        Assert.NotEqual(0, set.ExitCode);
        Assert.Contains("InvalidParameter", set.Error);

        var sub = await AwsCli.RunAsync(server, "sns", "subscribe", "--topic-arn", arn, "--protocol", "http", "--notification-endpoint", subscriber.Url, "--return-subscription-arn");
        var subscriptionArn = sub.Json.GetProperty("SubscriptionArn").GetString()!;
        Assert.StartsWith(arn + ":", subscriptionArn);
        var token = (await subscriber.WaitForAsync(r => r.Type == "SubscriptionConfirmation")).Single().Json.GetProperty("Token").GetString()!;
        var confirm = await AwsCli.RunAsync(server, "sns", "confirm-subscription", "--topic-arn", arn, "--token", token);
        Assert.Equal(subscriptionArn, confirm.Json.GetProperty("SubscriptionArn").GetString());

        var list = (await AwsCli.RunAsync(server, "sns", "list-subscriptions-by-topic", "--topic-arn", arn)).Json.GetProperty("Subscriptions");
        Assert.Equal(subscriber.Url, Assert.Single(list.EnumerateArray()).GetProperty("Endpoint").GetString());

        var publish = await AwsCli.RunAsync(server, "sns", "publish", "--topic-arn", arn, "--message", "hello", "--subject", "greeting");
        Assert.True(publish.ExitCode == 0, publish.Error);
        var notification = (await subscriber.WaitForAsync(r => r.Type == "Notification")).Single();
        Assert.Equal("hello", notification.Json.GetProperty("Message").GetString());
        Assert.Equal("greeting", notification.Json.GetProperty("Subject").GetString());

        Assert.Equal(0, (await AwsCli.RunAsync(server, "sns", "unsubscribe", "--subscription-arn", subscriptionArn)).ExitCode);
        await subscriber.WaitForAsync(r => r.Type == "UnsubscribeConfirmation");
        Assert.Equal(0, (await AwsCli.RunAsync(server, "sns", "delete-topic", "--topic-arn", arn)).ExitCode);
        Assert.Empty((await AwsCli.RunAsync(server, "sns", "list-topics")).Json.GetProperty("Topics").EnumerateArray());

        var missing = await AwsCli.RunAsync(server, "sns", "publish", "--topic-arn", arn, "--message", "x");
        Assert.Contains("NotFound", missing.Error);
    }
}
