using System.Diagnostics;
using System.Text.Json;
using MimeKit;

namespace Inlet.IntegrationTests;

/// <summary>
/// The most common use of SES receiving, end to end from SMTP to the outbox: functions in the shapes real SES
/// forwarders have (SDK v3 and a bundled aws-sdk v2) read the message from S3 and send it on through SES, and a
/// DMARC-style function bounces through SendBounce — none configured with a credential or an endpoint. Every AWS
/// call a function makes shows in the message's trace.
/// </summary>
public class ForwarderTests
{
    private const string Rules = """
        ReceiptRuleSets:
          - RuleSetName: main
            Rules:
              - Name: forward
                Enabled: true
                Recipients: [example.com]
                Actions:
                  - S3Action: { BucketName: mail, ObjectKeyPrefix: inbox/ }
                  - LambdaAction: { FunctionArn: forwarder, InvocationType: RequestResponse }
        """;

    private static string Function(string folder, string runtime = "nodejs20.x") => $$"""
        Functions:
          - FunctionName: forwarder
            Runtime: {{runtime}}
            Handler: index.handler
            Role: arn:aws:iam::000000000000:role/forwarder
            Code: {{folder}}
            Timeout: 20
            MemorySize: 256
        """;

    /// <summary>The usual forwarder rewrite: From becomes the forwarding address, the original sender the Reply-To.</summary>
    private const string Rewrite = """
        function rewrite(raw, original) {
          const split = raw.indexOf('\r\n\r\n');
          let header = raw.slice(0, split + 2), body = raw.slice(split + 2);
          header = header.replace(/^(Return-Path|Sender|Message-ID|DKIM-Signature|Reply-To):[\s\S]*?\r\n(?![ \t])/gmi, '');
          header = header.replace(/^From:[\s\S]*?\r\n(?![ \t])/mi, 'From: "Forwarded" <forwarder@example.com>\r\nReply-To: ' + original + '\r\n');
          return header + body;
        }
        """;

    [FunctionAwsAccessTests.NodeSdkFact]
    public async Task SdkV3Forwarder_CopiesReadsAndSendsRawThroughSesV2_AndTheTraceShowsEachCall()
    {
        var directory = TestServer.NewDirectory();
        var folder = FunctionFixtures.Write(directory, "forwarder", "index.js", Rewrite + """
            const { S3Client, CopyObjectCommand, GetObjectCommand } = require('@aws-sdk/client-s3');
            const { SESv2Client, SendEmailCommand } = require('@aws-sdk/client-sesv2');
            const s3 = new S3Client({});
            const ses = new SESv2Client({});
            exports.handler = async (event) => {
              const mail = event.Records[0].ses.mail;
              const key = 'inbox/' + mail.messageId;
              await s3.send(new CopyObjectCommand({ Bucket: 'mail', CopySource: 'mail/' + key, Key: key, ACL: 'private', ContentType: 'text/plain', StorageClass: 'STANDARD' }));
              const object = await s3.send(new GetObjectCommand({ Bucket: 'mail', Key: key }));
              const raw = rewrite(await object.Body.transformToString(), mail.commonHeaders.from[0]);
              const sent = await ses.send(new SendEmailCommand({ Content: { Raw: { Data: Buffer.from(raw) } }, Destination: { ToAddresses: ['final@elsewhere.test'] } }));
              console.log('forwarded as', sent.MessageId);
            };
            """);
        await using var server = await TestServer.StartAsync(Function(folder) + "\n" + Rules, directory: directory);

        var id = await SendAsync(server, "Hello, forward me");
        await server.WaitForMessageAsync(id);

        var calls = await CallsAsync(server, id);
        Assert.Equal($"CopyObject mail/inbox/{id} 200", calls[0]);
        Assert.Equal($"GetObject mail/inbox/{id} 200", calls[1]);
        Assert.Matches(@"^SendEmail 200 → outbox 0100[0-9a-f]{12}-", calls[2]);
        var item = Assert.Single(await OutboxAsync(server));
        Assert.Equal(["final@elsewhere.test"], item.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal("forwarder@example.com", item.GetProperty("mailFrom").GetString());
        var forwarded = await OutboxMessageAsync(server, item);
        Assert.Equal("Hello, forward me", forwarded.Subject);
        Assert.Equal("original@sender.test", ((MailboxAddress)forwarded.ReplyTo.Single()).Address);
    }

    /// <summary>Runs where npm is on the PATH, to install the SDK a function bundles.</summary>
    public sealed class NpmFactAttribute : FactAttribute
    {
        public NpmFactAttribute()
        {
            if (!(Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Any(p => File.Exists(Path.Combine(p, "npm"))))
            {
                Skip = "npm is not installed: the function's bundled aws-sdk v2 cannot be installed";
            }
        }
    }

    [NpmFact]
    public async Task BundledAwsSdkV2Forwarder_RunsUnchanged_WithAndWithoutSourceAndDestinations()
    {
        var modules = await NodeModules.InstallAsync("aws-sdk@2.1693.0")
            ?? throw new InvalidOperationException("npm could not install aws-sdk@2.1693.0 from its registry");

        var directory = TestServer.NewDirectory();
        // The shape of aws-lambda-ses-forwarder: aws-sdk v2 bundled in the function's own node_modules, callbacks
        // turned into promises, SendRawEmail with Source and Destinations; then once more with neither.
        var folder = FunctionFixtures.Write(directory, "forwarder", "index.js", Rewrite + """
            const AWS = require('aws-sdk');
            const s3 = new AWS.S3({ signatureVersion: 'v4' });
            const ses = new AWS.SES();
            exports.handler = function (event, context, callback) {
              const mail = event.Records[0].ses.mail;
              const key = 'inbox/' + mail.messageId;
              s3.copyObject({ Bucket: 'mail', CopySource: 'mail/' + key, Key: key, ACL: 'private', ContentType: 'text/plain', StorageClass: 'STANDARD' }).promise()
                .then(() => s3.getObject({ Bucket: 'mail', Key: key }).promise())
                .then((object) => {
                  const raw = rewrite(object.Body.toString(), mail.commonHeaders.from[0]);
                  return ses.sendRawEmail({ Source: 'forwarder@example.com', Destinations: ['final@elsewhere.test'], RawMessage: { Data: raw } }).promise()
                    .then(() => ses.sendRawEmail({ RawMessage: { Data: raw.replace('\r\n\r\n', '\r\nTo: second@elsewhere.test\r\n\r\n') } }).promise());
                })
                .then(() => callback(null, { disposition: 'CONTINUE' }), callback);
            };
            """);
        Directory.CreateSymbolicLink(Path.Combine(folder, "node_modules"), Path.Combine(modules, "node_modules"));
        await using var server = await TestServer.StartAsync(Function(folder) + "\n" + Rules, directory: directory);

        var id = await SendAsync(server, "Hello from v2");
        var message = await server.WaitForMessageAsync(id);
        Assert.Equal("processed", message.GetProperty("status").GetString());

        var calls = await CallsAsync(server, id);
        Assert.Equal(4, calls.Count);
        Assert.Equal($"CopyObject mail/inbox/{id} 200", calls[0]);
        Assert.Equal($"GetObject mail/inbox/{id} 200", calls[1]);
        Assert.StartsWith("SendRawEmail forwarder@example.com 200 → outbox ", calls[2]);
        Assert.StartsWith("SendRawEmail 200 → outbox ", calls[3]);
        var items = await OutboxAsync(server);
        Assert.Equal(2, items.Count);
        Assert.Contains(items, i => i.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()).SequenceEqual(["final@elsewhere.test"]));
        // Without Destinations, the envelope comes from the raw message's To.
        Assert.Contains(items, i => i.GetProperty("recipients").EnumerateArray().Any(r => r.GetString() == "second@elsewhere.test"));
    }

    [FunctionAwsAccessTests.NodeSdkFact]
    public Task SendBounceFunction_BouncesTheMessageItReceivedAndStopsTheRuleSet() => SendBounceFunctionAsync(inline: false);

    /// <summary>Inline, the message is recorded only when its run ends: the function's SendBounce finds it all the same.</summary>
    [FunctionAwsAccessTests.NodeSdkFact]
    public Task SendBounceFunction_InlineMode_BouncesTheMessageWhileItIsBeingReceived() => SendBounceFunctionAsync(inline: true);

    private static async Task SendBounceFunctionAsync(bool inline)
    {
        var directory = TestServer.NewDirectory();
        // The SES guide's bounce-on-policy function, with SDK v3: SendBounce for the received message, then STOP_RULE_SET.
        var folder = FunctionFixtures.Write(directory, "forwarder", "index.js", """
            const { SESClient, SendBounceCommand } = require('@aws-sdk/client-ses');
            const ses = new SESClient({});
            exports.handler = async (event) => {
              const record = event.Records[0].ses;
              if (!record.mail.commonHeaders.subject.includes('unwanted')) return { disposition: 'CONTINUE' };
              await ses.send(new SendBounceCommand({
                OriginalMessageId: record.mail.messageId,
                BounceSender: 'mailer-daemon@example.com',
                MessageDsn: { ReportingMta: 'dns; example.com', ArrivalDate: new Date() },
                BouncedRecipientInfoList: record.receipt.recipients.map((r) => ({ Recipient: r, BounceType: 'ContentRejected' })),
              }));
              return { disposition: 'STOP_RULE_SET' };
            };
            """);
        await using var server = await TestServer.StartAsync((inline ? "Smtp: { Mode: inline }\n" : "") + Function(folder) + "\n" + Rules, directory: directory);

        var id = await SendAsync(server, "unwanted offer");
        await server.WaitForMessageAsync(id);

        var calls = await CallsAsync(server, id);
        Assert.Matches($"^SendBounce {id} 200 → outbox ", Assert.Single(calls));
        var item = Assert.Single(await OutboxAsync(server));
        Assert.Equal("bounce", item.GetProperty("kind").GetString());
        Assert.Equal(["original@sender.test"], item.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));
        var dsn = await OutboxMessageAsync(server, item);
        Assert.Contains("Status: 5.6.1", dsn.ToString());
        // The DSN quotes the header section as the function saw it, with the verdicts, whether or not the message is
        // recorded yet.
        var quoted = Assert.Single(dsn.BodyParts, p => p.ContentType.IsMimeType("text", "rfc822-headers"));
        var headers = quoted.ToString();
        Assert.Contains("Subject: unwanted offer", headers);
        Assert.Contains("Received-SPF: ", headers);
        Assert.Contains("Authentication-Results: ", headers);
    }

    private static async Task<List<string>> CallsAsync(TestServer server, string id) =>
        [.. (await server.GetDetailAsync(id)).GetProperty("trace").EnumerateArray()
            .Where(t => t.GetProperty("kind").GetString() == "aws-call")
            .Select(t => t.GetProperty("detail").GetString()!)];

    private static async Task<List<JsonElement>> OutboxAsync(TestServer server) =>
        [.. (await server.GetJsonAsync("/api/outbox")).GetProperty("messages").EnumerateArray()];

    private static async Task<MimeMessage> OutboxMessageAsync(TestServer server, JsonElement item) =>
        await MimeMessage.LoadAsync(await server.Http.GetStreamAsync($"/api/outbox/{item.GetProperty("id").GetString()}/raw"));

    private static async Task<string> SendAsync(TestServer server, string subject)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("Original Sender <original@sender.test>"));
        message.To.Add(MailboxAddress.Parse("info@example.com"));
        message.Subject = subject;
        message.MessageId = Guid.NewGuid().ToString("N") + "@sender.test";
        message.Body = new TextPart("plain") { Text = "The body that travels." };
        return await ReceiptRuleTests.SendAsync(server, message, from: "original@sender.test");
    }
}

/// <summary>npm packages a test's function bundles, installed once per machine into a shared folder.</summary>
internal static class NodeModules
{
    private static readonly SemaphoreSlim s_gate = new(1, 1);

    /// <summary>The folder holding <c>node_modules</c> with the package, or null when npm cannot install it here.</summary>
    public static async Task<string?> InstallAsync(string package)
    {
        var folder = Path.Combine(Path.GetTempPath(), "inlet-test-npm", package.Replace('@', '-').Replace('/', '-'));
        await s_gate.WaitAsync();
        try
        {
            if (File.Exists(Path.Combine(folder, ".installed")))
            {
                return folder;
            }

            Directory.CreateDirectory(folder);
            await File.WriteAllTextAsync(Path.Combine(folder, "package.json"), """{"private":true}""");
            var info = new ProcessStartInfo("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", package]) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await process.WaitForExitAsync(timeout.Token);
            _ = await output + await error;
            if (process.ExitCode != 0)
            {
                return null;
            }

            await File.WriteAllTextAsync(Path.Combine(folder, ".installed"), package);
            return folder;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
        finally
        {
            s_gate.Release();
        }
    }
}
