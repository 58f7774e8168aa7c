using System.Text.Json;
using MimeKit;
using MimeKit.Cryptography;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.X509;

namespace Inlet.IntegrationTests;

/// <summary>
/// Everything one verdict test needs: a loopback DNS server holding the senders' SPF, DKIM and DMARC records, a real
/// RSA key whose public half is published there, and an Inlet whose one rule runs a Lambda action (its function records
/// the event), an SNS action (the topic's Lambda subscriber records the notification) and an S3 action (the stored
/// message and its headers).
/// </summary>
internal sealed class VerdictWorld : IAsyncDisposable
{
    public const string Selector = "sel";

    private VerdictWorld(LoopbackDnsServer dns, TestServer server, string eventLog, string notificationLog, AsymmetricCipherKeyPair key)
    {
        Dns = dns;
        Server = server;
        EventLog = eventLog;
        NotificationLog = notificationLog;
        Key = key;
    }

    public LoopbackDnsServer Dns { get; }

    public TestServer Server { get; }

    public string EventLog { get; }

    public string NotificationLog { get; }

    public AsymmetricCipherKeyPair Key { get; }

    public const string Recorder = """
        const fs = require('fs');
        exports.handler = async (event) => {
            fs.appendFileSync(process.env.EVENT_LOG, JSON.stringify(event) + '\n');
            if (process.env.FAIL_FIRST && !fs.existsSync(process.env.FAIL_FIRST)) {
                fs.writeFileSync(process.env.FAIL_FIRST, 'failed once');
                throw new Error('the first invocation fails');
            }
            return { disposition: 'CONTINUE' };
        };
        """;

    /// <param name="authentication">More of the Authentication section, one setting per line.</param>
    /// <param name="actions">Actions before the recording ones, as YAML list items.</param>
    public static async Task<VerdictWorld> StartAsync(bool scan = false, string authentication = "", string actionsBefore = "", bool failFirstInvocation = false, TimeSpan? dnsTimeout = null)
    {
        var dns = new LoopbackDnsServer();
        var generator = new RsaKeyPairGenerator();
        generator.Init(new Org.BouncyCastle.Crypto.KeyGenerationParameters(new SecureRandom(), 2048));
        var key = generator.GenerateKeyPair();
        var publicKey = Convert.ToBase64String(SubjectPublicKeyInfoFactory.CreateSubjectPublicKeyInfo(key.Public).GetDerEncoded());
        var otherKey = generator.GenerateKeyPair();
        var otherPublicKey = Convert.ToBase64String(SubjectPublicKeyInfoFactory.CreateSubjectPublicKeyInfo(otherKey.Public).GetDerEncoded());

        // PASS everywhere: SPF permits 127.0.0.1, the key is the signer's, DMARC reject.
        dns.Add("good.test", ZoneRecord.Txt("v=spf1 ip4:127.0.0.1 -all"));
        dns.Add($"{Selector}._domainkey.good.test", ZoneRecord.Txt($"v=DKIM1; k=rsa; p={publicKey}"));
        dns.Add("_dmarc.good.test", ZoneRecord.Txt("v=DMARC1; p=reject; adkim=s; aspf=s"));
        // FAIL everywhere: SPF denies every host, the published key is another one, DMARC quarantine.
        dns.Add("fail.test", ZoneRecord.Txt("v=spf1 -all"));
        dns.Add($"{Selector}._domainkey.fail.test", ZoneRecord.Txt($"v=DKIM1; k=rsa; p={otherPublicKey}"));
        dns.Add("_dmarc.fail.test", ZoneRecord.Txt("v=DMARC1; p=quarantine"));
        // GRAY everywhere: gray.test is not in DNS at all and the message is not signed.
        // PROCESSING_FAILED everywhere: every query about timeout.test goes unanswered.
        dns.Add("timeout.test", ZoneRecord.Timeout);
        dns.Add($"{Selector}._domainkey.timeout.test", ZoneRecord.Timeout);
        dns.Add("_dmarc.timeout.test", ZoneRecord.Timeout);

        var directory = TestServer.NewDirectory();
        var recorder = FunctionFixtures.Write(directory, "recorder", "index.js", Recorder);
        var output = FunctionFixtures.OutputFolder(directory);
        var eventLog = Path.Combine(output, "events.jsonl");
        var notificationLog = Path.Combine(output, "notifications.jsonl");
        var failFirst = failFirstInvocation ? $", FAIL_FIRST: {Path.Combine(output, "failed-once")}" : string.Empty;
        var server = await TestServer.StartAsync(
            $$"""
            Functions:
              - FunctionName: recorder
                Runtime: nodejs20.x
                Handler: index.handler
                Code: {{recorder}}
                Environment: { Variables: { EVENT_LOG: {{eventLog}}{{failFirst}} } }
              - FunctionName: sns-reader
                Runtime: nodejs20.x
                Handler: index.handler
                Code: {{recorder}}
                Environment: { Variables: { EVENT_LOG: {{notificationLog}} } }
            Topics:
              - Name: verdicts
                Subscriptions:
                  - Protocol: lambda
                    Endpoint: arn:aws:lambda:us-east-1:000000000000:function:sns-reader
            Processing: { RetryInitialDelay: 1 }
            Authentication:
              DnsServers: ["{{dns.EndPoint}}"]
            {{authentication}}
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: verdicts
                    Enabled: true
                    ScanEnabled: {{(scan ? "true" : "false")}}
                    Recipients: [example.com]
                    Actions:
            {{actionsBefore}}
                      - LambdaAction: { FunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:recorder", InvocationType: RequestResponse }
                      - SNSAction: { TopicArn: "arn:aws:sns:us-east-1:000000000000:verdicts" }
                      - S3Action: { BucketName: mail }
            """,
            adjust: o => o with { Authentication = o.Authentication with { DnsTimeout = dnsTimeout ?? TimeSpan.FromMilliseconds(300) } },
            directory: directory);
        return new VerdictWorld(dns, server, eventLog, notificationLog, key);
    }

    public static MimeMessage Message(string fromDomain, string subject, string body = "Hello.\n")
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Sender", $"sender@{fromDomain}"));
        message.To.Add(MailboxAddress.Parse("user@example.com"));
        message.Subject = subject;
        message.MessageId = $"{Guid.NewGuid():N}@{fromDomain}";
        message.Date = DateTimeOffset.UtcNow;
        message.Body = new TextPart("plain") { Text = body };
        return message;
    }

    /// <summary>Signs with <see cref="Key"/> for <c>d=domain; s=sel</c>, as a sending server would.</summary>
    public MimeMessage Sign(MimeMessage message, string domain)
    {
        message.Prepare(EncodingConstraint.SevenBit);
        var signer = new DkimSigner(Key.Private, domain, Selector)
        {
            HeaderCanonicalizationAlgorithm = DkimCanonicalizationAlgorithm.Relaxed,
            BodyCanonicalizationAlgorithm = DkimCanonicalizationAlgorithm.Simple,
        };
        signer.Sign(message, [HeaderId.From, HeaderId.To, HeaderId.Subject, HeaderId.Date, HeaderId.MessageId]);
        return message;
    }

    public Task<string> SendAsync(MimeMessage message, string mailFrom) => ReceiptRuleTests.SendAsync(Server, message, mailFrom);

    /// <summary>The receipt of the Lambda event, the SNS notification (parsed from the SNS message) and the stored message.</summary>
    public async Task<(JsonElement Event, JsonElement Notification, MimeMessage Stored)> WaitForAllAsync(string id, TimeSpan? limit = null)
    {
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var lambda = Lines(EventLog).FirstOrDefault(e => e.GetProperty("Records")[0].GetProperty("ses").GetProperty("mail").GetProperty("messageId").GetString() == id);
            var notification = Lines(NotificationLog)
                .Select(e => JsonDocument.Parse(e.GetProperty("Records")[0].GetProperty("Sns").GetProperty("Message").GetString()!).RootElement)
                .FirstOrDefault(n => n.GetProperty("mail").GetProperty("messageId").GetString() == id);
            var stored = ReceiptRuleTests.ReadObject(Server, "mail", id);
            if (lambda.ValueKind != JsonValueKind.Undefined && notification.ValueKind != JsonValueKind.Undefined && stored is not null)
            {
                using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(stored));
                return (lambda.GetProperty("Records")[0].GetProperty("ses").GetProperty("receipt"), notification.GetProperty("receipt"), await MimeMessage.LoadAsync(stream));
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"message {id}: the Lambda event, the SNS notification or the stored object did not arrive");
            }

            await Task.Delay(100);
        }
    }

    private static List<JsonElement> Lines(string path) =>
        File.Exists(path) ? File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement).ToList() : [];

    public static string Status(JsonElement receipt, string verdict) => receipt.GetProperty(verdict).GetProperty("status").GetString()!;

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await Dns.DisposeAsync();
    }
}

public class VerdictTests
{
    private static readonly string[] s_verdicts = ["spfVerdict", "dkimVerdict", "dmarcVerdict"];

    [Theory]
    [InlineData("good.test", true, "PASS", "pass", null)]
    [InlineData("fail.test", true, "FAIL", "fail", "quarantine")]
    [InlineData("gray.test", false, "GRAY", "none", null)]
    [InlineData("timeout.test", true, "PROCESSING_FAILED", "temperror", null)]
    public async Task Verdicts_SenderDomain_ReachTheLambdaEventTheNotificationAndTheStoredHeaders(string domain, bool signed, string expected, string spfResult, string? policy)
    {
        await using var world = await VerdictWorld.StartAsync();
        var message = VerdictWorld.Message(domain, $"from {domain}");
        if (signed)
        {
            world.Sign(message, domain);
        }

        var id = await world.SendAsync(message, $"bounce@{domain}");
        var (lambda, notification, stored) = await world.WaitForAllAsync(id);

        foreach (var receipt in new[] { lambda, notification })
        {
            foreach (var verdict in s_verdicts)
            {
                Assert.Equal(expected, VerdictWorld.Status(receipt, verdict));
            }

            // ScanEnabled is off for the rule: SES reports DISABLED.
            Assert.Equal("DISABLED", VerdictWorld.Status(receipt, "spamVerdict"));
            Assert.Equal("DISABLED", VerdictWorld.Status(receipt, "virusVerdict"));
            Assert.Equal(policy, receipt.TryGetProperty("dmarcPolicy", out var p) ? p.GetString() : null);
        }

        // The stored message: SES's headers first, in SES's order, before the message's own.
        var names = stored.Headers.Select(h => h.Field).Take(5).ToArray();
        Assert.Equal(["Return-Path", "Received", "Received-SPF", "Authentication-Results", "X-SES-RECEIPT"], names);
        Assert.False(stored.Headers.Contains("X-SES-Spam-Verdict"));
        Assert.StartsWith($"{spfResult} (spfCheck: ", stored.Headers["Received-SPF"]);
        Assert.Contains($"envelope-from=bounce@{domain};", stored.Headers["Received-SPF"]);
        var results = stored.Headers["Authentication-Results"]!;
        Assert.StartsWith("inlet.localhost;", results);
        Assert.Contains($"spf={spfResult} ", results);
        Assert.Contains(signed ? $"dkim={(expected == "PASS" ? "pass" : expected == "FAIL" ? "fail" : "temperror")} header.i=@{domain} header.s=sel;" : "dkim=none;", results);
        // The DMARC result follows the same pattern here (dmarcVerdict GRAY is dmarc=none, as SES writes it).
        Assert.Contains($"dmarc={spfResult}", results);
        Assert.Contains($"header.from={domain};", results);
        var receiptBlob = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(stored.Headers["X-SES-RECEIPT"]!));
        Assert.Contains($"\"spf\":\"{expected}\"", receiptBlob);
    }

    [Fact]
    public async Task DkimVerdict_ThirdPartySignatureOnly_IsGrayAndDmarcFailsWithThePolicy()
    {
        await using var world = await VerdictWorld.StartAsync();
        // Signed by good.test (a good signature), but From: fail.test — as SES, only a From-domain signature is a PASS.
        var message = world.Sign(VerdictWorld.Message("fail.test", "third party"), "good.test");
        var id = await world.SendAsync(message, "bounce@good.test");
        var (lambda, _, stored) = await world.WaitForAllAsync(id);

        Assert.Equal("PASS", VerdictWorld.Status(lambda, "spfVerdict"));
        Assert.Equal("GRAY", VerdictWorld.Status(lambda, "dkimVerdict"));
        Assert.Equal("FAIL", VerdictWorld.Status(lambda, "dmarcVerdict"));
        Assert.Equal("quarantine", lambda.GetProperty("dmarcPolicy").GetString());
        Assert.Contains("dkim=pass header.i=@good.test", stored.Headers["Authentication-Results"]);
    }

    [Fact]
    public async Task DkimVerdict_BodyChangedAfterSigning_IsFail()
    {
        await using var world = await VerdictWorld.StartAsync();
        var message = world.Sign(VerdictWorld.Message("good.test", "tampered"), "good.test");
        ((TextPart)message.Body!).Text = "Not what was signed.\n";
        var id = await world.SendAsync(message, "bounce@good.test");
        var (lambda, _, _) = await world.WaitForAllAsync(id);

        Assert.Equal("FAIL", VerdictWorld.Status(lambda, "dkimVerdict"));
        // SPF still passes aligned (aspf=s, MAIL FROM good.test), so DMARC passes.
        Assert.Equal("PASS", VerdictWorld.Status(lambda, "dmarcVerdict"));
    }

    [Fact]
    public async Task Verdicts_AfterAFailedActionAndAddHeaders_AreComputedOnce()
    {
        // An AddHeader claiming a pass comes first; the Lambda action fails once and is retried.
        await using var world = await VerdictWorld.StartAsync(
            actionsBefore: """
                      - AddHeaderAction: { HeaderName: Authentication-Results, HeaderValue: "forged; dkim=pass; spf=pass" }
            """,
            failFirstInvocation: true);
        var message = VerdictWorld.Message("fail.test", "retried");
        var id = await world.SendAsync(message, "bounce@fail.test");
        var (lambda, notification, stored) = await world.WaitForAllAsync(id);
        var queries = world.Dns.Queries;

        var detail = await world.Server.GetDetailAsync(id);
        var trace = detail.GetProperty("trace").EnumerateArray().ToList();
        Assert.Contains(trace, t => t.TryGetProperty("outcome", out var outcome) && outcome.GetString() == "retrying");
        Assert.Single(trace, t => t.GetProperty("kind").GetString() == "verdicts");
        Assert.Equal(2, File.ReadAllLines(world.EventLog).Length);
        Assert.Equal("FAIL", VerdictWorld.Status(lambda, "spfVerdict"));
        Assert.Equal("FAIL", VerdictWorld.Status(notification, "spfVerdict"));
        // SES's Authentication-Results comes first; the forged one sits where AddHeader put it, after the original headers.
        Assert.Equal(2, stored.Headers.Count(h => h.Field == "Authentication-Results"));
        Assert.StartsWith("inlet.localhost;", stored.Headers["Authentication-Results"]);
        // No lookups after the first run: the retry and the later actions used the saved verdicts.
        await Task.Delay(500);
        Assert.Equal(queries, world.Dns.Queries);
    }

    [Fact]
    public async Task Verdicts_SlowDnsForOneMessage_DoNotDelayAnother()
    {
        await using var world = await VerdictWorld.StartAsync(dnsTimeout: TimeSpan.FromSeconds(2));
        var slow = await world.SendAsync(VerdictWorld.Message("timeout.test", "slow"), "bounce@timeout.test");
        var fast = await world.SendAsync(VerdictWorld.Message("good.test", "fast"), "bounce@good.test");

        var (lambda, _, _) = await world.WaitForAllAsync(fast, TimeSpan.FromSeconds(3));
        Assert.Equal("PASS", VerdictWorld.Status(lambda, "spfVerdict"));
        var slowMessage = (await world.Server.GetDetailAsync(slow)).GetProperty("message");
        Assert.NotEqual("processed", slowMessage.GetProperty("status").GetString());

        var (slowLambda, _, _) = await world.WaitForAllAsync(slow, TimeSpan.FromSeconds(30));
        Assert.Equal("PROCESSING_FAILED", VerdictWorld.Status(slowLambda, "spfVerdict"));
    }

    [Fact]
    public async Task ScanVerdicts_ScannersNotConfiguredOrUnreachable_AreGrayAndProcessingFailed()
    {
        // Spamd names a port nothing listens on; Clamd is not configured.
        using var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        await using var world = await VerdictWorld.StartAsync(scan: true, authentication: $"  Spamd: 127.0.0.1:{port}");
        var id = await world.SendAsync(VerdictWorld.Message("good.test", "scan me"), "bounce@good.test");
        var (lambda, notification, stored) = await world.WaitForAllAsync(id);

        foreach (var receipt in new[] { lambda, notification })
        {
            Assert.Equal("PROCESSING_FAILED", VerdictWorld.Status(receipt, "spamVerdict"));
            Assert.Equal("GRAY", VerdictWorld.Status(receipt, "virusVerdict"));
            Assert.Equal("PASS", VerdictWorld.Status(receipt, "spfVerdict"));
        }

        Assert.Equal(["Return-Path", "Received", "X-SES-Spam-Verdict", "X-SES-Virus-Verdict", "Received-SPF"], stored.Headers.Select(h => h.Field).Take(5).ToArray());
        Assert.Equal("PROCESSING_FAILED", stored.Headers["X-SES-Spam-Verdict"]);
        Assert.Equal("GRAY", stored.Headers["X-SES-Virus-Verdict"]);
    }
}

/// <summary>Spam and virus verdicts from the real spamd and clamd, started by <see cref="ScannerDaemons"/>.</summary>
public class ScanVerdictTests(ScannerDaemons daemons) : IClassFixture<ScannerDaemons>
{
    private async Task<VerdictWorld> StartAsync() => await VerdictWorld.StartAsync(
        scan: true,
        authentication: $"""
              Spamd: {daemons.Spamd}
              SpamThreshold: 5.0
              Clamd: {daemons.Clamd}
            """);

    [InstalledFact("spamd", "clamd")]
    public async Task ScanVerdicts_GtubeBodyAndEicarAttachment_AreFail()
    {
        await using var world = await StartAsync();
        var message = VerdictWorld.Message("good.test", "spam and a virus");
        var body = new BodyBuilder { TextBody = "Buy now.\n" + ScannerDaemons.Gtube + "\n" };
        body.Attachments.Add("eicar.com", System.Text.Encoding.ASCII.GetBytes(ScannerDaemons.Eicar), new ContentType("application", "octet-stream"));
        message.Body = body.ToMessageBody();
        var id = await world.SendAsync(message, "bounce@good.test");
        var (lambda, notification, stored) = await world.WaitForAllAsync(id);

        foreach (var receipt in new[] { lambda, notification })
        {
            Assert.Equal("FAIL", VerdictWorld.Status(receipt, "spamVerdict"));
            Assert.Equal("FAIL", VerdictWorld.Status(receipt, "virusVerdict"));
        }

        Assert.Equal("FAIL", stored.Headers["X-SES-Spam-Verdict"]);
        Assert.Equal("FAIL", stored.Headers["X-SES-Virus-Verdict"]);
        var trace = (await world.Server.GetDetailAsync(id)).GetProperty("trace").EnumerateArray().Single(t => t.GetProperty("kind").GetString() == "verdicts");
        Assert.Contains("GTUBE", trace.GetProperty("detail").GetString());
        Assert.Contains("Eicar-Test-Signature", trace.GetProperty("detail").GetString());
    }

    [InstalledFact("spamd", "clamd")]
    public async Task ScanVerdicts_CleanMessage_ArePass()
    {
        await using var world = await StartAsync();
        var message = world.Sign(VerdictWorld.Message("good.test", "Minutes of Tuesday's meeting", "Hi team,\n\nthe minutes are below.\n\nRegards,\nSam\n"), "good.test");
        var id = await world.SendAsync(message, "bounce@good.test");
        var (lambda, notification, stored) = await world.WaitForAllAsync(id);

        foreach (var receipt in new[] { lambda, notification })
        {
            Assert.Equal("PASS", VerdictWorld.Status(receipt, "spamVerdict"));
            Assert.Equal("PASS", VerdictWorld.Status(receipt, "virusVerdict"));
            Assert.Equal("PASS", VerdictWorld.Status(receipt, "dkimVerdict"));
        }

        Assert.Equal("PASS", stored.Headers["X-SES-Spam-Verdict"]);
        Assert.Equal("PASS", stored.Headers["X-SES-Virus-Verdict"]);
    }
}
