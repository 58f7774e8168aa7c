using System.Text;
using System.Text.Json;
using Inlet.Storage;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Inlet.IntegrationTests;

/// <summary>Rules at work: flow control, AddHeader, S3, Bounce, retries, traces — driven by real SMTP traffic.</summary>
public class ReceiptRuleTests
{
    private static MimeMessage NewMessage(IEnumerable<string> to, string subject = "Rules", string? extraHeaders = null)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("sender@sender.test"));
        foreach (var address in to)
        {
            message.To.Add(MailboxAddress.Parse(address));
        }

        message.Subject = subject;
        message.MessageId = "test-message@sender.test";
        message.Body = new TextPart("plain") { Text = "Hello rules.\n" };
        if (extraHeaders is not null)
        {
            foreach (var line in extraHeaders.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var colon = line.IndexOf(':');
                message.Headers.Add(line[..colon], line[(colon + 1)..].Trim());
            }
        }

        return message;
    }

    internal static async Task<string> SendAsync(TestServer server, MimeMessage message, string from = "sender@sender.test", IEnumerable<string>? envelopeTo = null)
    {
        using var client = new SmtpClient();
        await client.ConnectAsync("127.0.0.1", server.SmtpPort, SecureSocketOptions.None);
        var recipients = (envelopeTo ?? message.To.Mailboxes.Select(m => m.Address)).Select(MailboxAddress.Parse).ToList();
        var reply = await client.SendAsync(message, MailboxAddress.Parse(from), recipients);
        await client.DisconnectAsync(true);
        return reply.Split(' ').Last();
    }

    internal static string? ReadObject(TestServer server, string bucket, string key)
    {
        var path = Path.Combine(server.Directory, "buckets", bucket, FileBlobStore.Escape(key));
        return File.Exists(path) ? File.ReadAllText(path) : null;
    }

    private static List<JsonElement> Trace(JsonElement detail) => detail.GetProperty("trace").EnumerateArray().ToList();

    [Fact]
    public async Task StopAction_EndsTheRuleAndTheRuleSet()
    {
        await using var server = await TestServer.StartAsync("""
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: first
                    Enabled: true
                    Actions:
                      - S3Action: { BucketName: before-stop }
                      - StopAction: { Scope: RuleSet }
                      - S3Action: { BucketName: after-stop }
                  - Name: second
                    Enabled: true
                    Actions:
                      - S3Action: { BucketName: later-rule }
            """);
        var id = await SendAsync(server, NewMessage(["a@example.com"]));
        await server.WaitForMessageAsync(id);
        Assert.NotNull(ReadObject(server, "before-stop", id));
        Assert.Null(ReadObject(server, "after-stop", id));
        Assert.Null(ReadObject(server, "later-rule", id));
        var trace = Trace(await server.GetDetailAsync(id));
        Assert.Contains(trace, t => t.GetProperty("kind").GetString() == "action" && t.GetProperty("outcome").GetString() == "stop-rule-set");
        Assert.Contains("ended by Stop action 2 of rule first", trace[^1].GetProperty("detail").GetString());
    }

    [Fact]
    public async Task AddHeader_IsSeenByLaterActionsAndLaterRules()
    {
        await using var server = await TestServer.StartAsync("""
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: tag
                    Enabled: true
                    Actions:
                      - S3Action: { BucketName: untagged }
                      - AddHeaderAction: { HeaderName: X-Inlet-Tag, HeaderValue: tagged by rule one }
                      - S3Action: { BucketName: same-rule, ObjectKeyPrefix: inbox/ }
                  - Name: later
                    Enabled: true
                    Actions:
                      - S3Action: { BucketName: later-rule, ObjectKeyPrefix: mail }
            """);
        var id = await SendAsync(server, NewMessage(["a@example.com"]));
        await server.WaitForMessageAsync(id);

        var untagged = ReadObject(server, "untagged", id)!;
        Assert.DoesNotContain("X-Inlet-Tag", untagged);
        Assert.StartsWith("Return-Path: <sender@sender.test>\r\nReceived: from ", untagged);

        foreach (var stored in new[] { ReadObject(server, "same-rule", "inbox/" + id)!, ReadObject(server, "later-rule", "mail/" + id)! })
        {
            // Appended at the end of the header block: just before the empty line.
            var headerEnd = stored.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            Assert.EndsWith("X-Inlet-Tag: tagged by rule one", stored[..headerEnd]);
            Assert.Contains("Hello rules.", stored[headerEnd..]);
        }

        var mail = (await server.GetDetailAsync(id)).GetProperty("mail");
        var headers = mail.GetProperty("headers").EnumerateArray().ToList();
        Assert.Equal("Return-Path", headers[0].GetProperty("name").GetString());
        Assert.Equal("Received", headers[1].GetProperty("name").GetString());
        Assert.Equal("X-Inlet-Tag", headers[^1].GetProperty("name").GetString());
    }

    [Fact]
    public async Task S3Action_KeyIsPrefixPlusMessageId()
    {
        await using var server = await TestServer.StartAsync("""
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: keys
                    Enabled: true
                    Actions:
                      - S3Action: { BucketName: no-prefix }
                      - S3Action: { BucketName: slash-prefix, ObjectKeyPrefix: emails/ }
                      - S3Action: { BucketName: bare-prefix, ObjectKeyPrefix: mail }
            """);
        var id = await SendAsync(server, NewMessage(["a@example.com"]));
        await server.WaitForMessageAsync(id);
        Assert.NotNull(ReadObject(server, "no-prefix", id));
        Assert.NotNull(ReadObject(server, "slash-prefix", "emails/" + id));
        Assert.NotNull(ReadObject(server, "bare-prefix", "mail/" + id));
    }

    [Fact]
    public async Task Rules_SeeOnlyTheRecipientsTheyMatch()
    {
        await using var server = await TestServer.StartAsync("""
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: sales
                    Enabled: true
                    Recipients: [sales@example.com]
                    Actions: [{ S3Action: { BucketName: sales } }]
                  - Name: domain
                    Enabled: true
                    Recipients: [example.com]
                    Actions: [{ S3Action: { BucketName: everyone } }]
                  - Name: disabled
                    Enabled: false
                    Actions: [{ S3Action: { BucketName: never } }]
            """);
        var id = await SendAsync(server, NewMessage(["sales+promo@example.com", "bob@example.com"]));
        await server.WaitForMessageAsync(id);
        var rules = Trace(await server.GetDetailAsync(id)).Where(t => t.GetProperty("kind").GetString() == "rule").ToList();
        Assert.Equal(2, rules.Count);
        Assert.Equal("sales", rules[0].GetProperty("rule").GetString());
        Assert.Equal(["sales+promo@example.com"], rules[0].GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(["sales+promo@example.com", "bob@example.com"], rules[1].GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));
        Assert.Null(ReadObject(server, "never", id));
    }

    [Fact]
    public async Task BounceAction_DoesNotStopEvaluationAndKeepsTheDsnInTheOutbox()
    {
        await using var server = await TestServer.StartAsync("""
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: bounce
                    Enabled: true
                    Actions:
                      - BounceAction: { SmtpReplyCode: "550", StatusCode: 5.1.1, Message: Mailbox does not exist, Sender: mailer-daemon@example.com }
                      - S3Action: { BucketName: after-bounce }
            """);
        var id = await SendAsync(server, NewMessage(["gone@example.com"]));
        await server.WaitForMessageAsync(id);
        Assert.NotNull(ReadObject(server, "after-bounce", id));

        var outbox = (await server.GetJsonAsync("/api/outbox")).GetProperty("messages").EnumerateArray().ToList();
        var held = Assert.Single(outbox);
        Assert.Equal(id, held.GetProperty("messageId").GetString());
        var dsn = MimeMessage.Load(await server.Http.GetStreamAsync($"/api/outbox/{held.GetProperty("id").GetString()}/raw"));
        Assert.Equal("mailer-daemon@example.com", dsn.From.Mailboxes.Single().Address);
        Assert.Equal("sender@sender.test", dsn.To.Mailboxes.Single().Address);
        var report = Assert.IsType<MultipartReport>(dsn.Body);
        Assert.Equal("delivery-status", report.ReportType);
        var status = Assert.IsType<MessageDeliveryStatus>(report[1]);
        Assert.Equal("5.1.1", status.StatusGroups[1]["Status"]);
        Assert.Equal("rfc822; gone@example.com", status.StatusGroups[1]["Final-Recipient"]);
        Assert.Equal("Rules", ((MessagePart)report[2]).Message!.Subject);
    }

    [Fact]
    public async Task BounceAction_DsnReachesARealSmtpServerWithTheNullSender()
    {
        // The sink is a second Inlet that accepts the original sender's domain.
        await using var sink = await TestServer.StartAsync("""
            ReceiptRuleSets:
              - RuleSetName: sink
                Rules:
                  - Name: senders
                    Enabled: true
                    Recipients: [sender.test]
            """);
        await using var server = await TestServer.StartAsync(
            """
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: bounce
                    Enabled: true
                    Actions:
                      - BounceAction: { SmtpReplyCode: "552", StatusCode: 5.2.2, Message: Mailbox full, Sender: postmaster@example.com }
            """,
            o => o with { Outbound = o.Outbound with { Host = "127.0.0.1", Port = sink.SmtpPort, Security = "None" } });
        var id = await SendAsync(server, NewMessage(["full@example.com"]));
        var bounced = await server.WaitForMessageAsync(id);

        JsonElement? received = null;
        for (var i = 0; i < 100 && received is null; i++)
        {
            var list = (await sink.GetJsonAsync("/api/messages")).GetProperty("messages");
            received = list.GetArrayLength() > 0 ? list[0] : null;
            await Task.Delay(50);
        }

        Assert.NotNull(received);
        var envelope = received.Value.GetProperty("envelope");
        Assert.Equal(string.Empty, envelope.GetProperty("mailFrom").GetString());
        Assert.Equal("sender@sender.test", envelope.GetProperty("recipients")[0].GetString());
        var raw = await sink.Http.GetStringAsync($"/api/messages/{received.Value.GetProperty("messageId").GetString()}/raw");
        Assert.Contains("report-type=delivery-status", raw);
        Assert.Contains("Status: 5.2.2", raw);
        var trace = Trace(await server.GetDetailAsync(id));
        Assert.Contains(trace, t => t.GetProperty("kind").GetString() == "bounce" && t.GetProperty("detail").GetString()!.Contains("for the relay 127.0.0.1"));
    }

    [Fact]
    public async Task FailedAction_IsRetriedAndLaterActionsWait()
    {
        await using var server = await TestServer.StartAsync(
            """
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: retry
                    Enabled: true
                    Actions:
                      - S3Action: { BucketName: made-later }
                      - S3Action: { BucketName: waits }
            Buckets: [waits]
            """,
            o => o with { Processing = o.Processing with { RetryInitialDelay = TimeSpan.FromMilliseconds(300), RetryMaxDelay = TimeSpan.FromMilliseconds(300) } });
        Directory.Delete(Path.Combine(server.Directory, "buckets", "made-later"), recursive: true);
        var id = await SendAsync(server, NewMessage(["a@example.com"]));
        var retrying = await server.WaitForMessageAsync(id, "retrying");
        Assert.True(retrying.TryGetProperty("nextAttemptAt", out _));
        Assert.Null(ReadObject(server, "waits", id));

        Directory.CreateDirectory(Path.Combine(server.Directory, "buckets", "made-later"));
        await server.WaitForMessageAsync(id, "processed");
        Assert.NotNull(ReadObject(server, "made-later", id));
        Assert.NotNull(ReadObject(server, "waits", id));
        var outcomes = Trace(await server.GetDetailAsync(id)).Where(t => t.GetProperty("kind").GetString() == "action").Select(t => t.GetProperty("outcome").GetString()).ToList();
        Assert.Equal("retrying", outcomes[0]);
        Assert.Equal(["ok", "ok"], outcomes.Where(o => o != "retrying"));
    }

    [Fact]
    public async Task FailedAction_GivesUpAfterTheRetryWindowAndEvaluationGoesOn()
    {
        await using var server = await TestServer.StartAsync(
            """
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: expire
                    Enabled: true
                    Actions:
                      - S3Action: { BucketName: missing }
                      - S3Action: { BucketName: still-runs }
            """,
            o => o with { Processing = o.Processing with { RetryInitialDelay = TimeSpan.FromMilliseconds(100), RetryMaxDelay = TimeSpan.FromMilliseconds(200), RetryMaxAge = TimeSpan.FromSeconds(1) } });
        Directory.Delete(Path.Combine(server.Directory, "buckets", "missing"), recursive: true);
        var id = await SendAsync(server, NewMessage(["a@example.com"]));
        await server.WaitForMessageAsync(id, "failed");
        Assert.NotNull(ReadObject(server, "still-runs", id));
        var expired = Trace(await server.GetDetailAsync(id)).Single(t => t.TryGetProperty("outcome", out var o) && o.GetString() == "expired");
        Assert.Contains("Could not write to bucket: missing", expired.GetProperty("error").GetString());
    }

    [Fact]
    public async Task UnsupportedAction_IsReportedInTheTraceAndPassedOver()
    {
        await using var server = await TestServer.StartAsync("""
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: workmail
                    Enabled: true
                    Actions:
                      - WorkmailAction: { OrganizationArn: "arn:aws:workmail:us-east-1:000000000000:organization/m-0123456789" }
                      - S3Action: { BucketName: after }
            """);
        var id = await SendAsync(server, NewMessage(["a@example.com"]));
        await server.WaitForMessageAsync(id);
        var trace = Trace(await server.GetDetailAsync(id));
        var unsupported = trace.Single(t => t.TryGetProperty("outcome", out var o) && o.GetString() == "unsupported");
        Assert.Contains("WorkmailAction is not supported", unsupported.GetProperty("detail").GetString());
        Assert.NotNull(ReadObject(server, "after", id));
    }

    [Fact]
    public async Task Headers_Over10KB_AreTruncatedInTheMailObject()
    {
        await using var server = await TestServer.StartAsync();
        var filler = new StringBuilder();
        for (var i = 0; i < 150; i++)
        {
            filler.Append($"X-Filler-{i}: {new string('f', 90)}\n");
        }

        var id = await SendAsync(server, NewMessage(["a@example.com"], extraHeaders: filler.ToString()));
        await server.WaitForMessageAsync(id);
        var mail = (await server.GetDetailAsync(id)).GetProperty("mail");
        Assert.True(mail.GetProperty("headersTruncated").GetBoolean());
        var headers = mail.GetProperty("headers").EnumerateArray().ToList();
        Assert.InRange(headers.Sum(h => h.GetProperty("name").GetString()!.Length + h.GetProperty("value").GetString()!.Length + 4), 9000, 10 * 1024);
        Assert.Equal("Rules", mail.GetProperty("commonHeaders").GetProperty("subject").GetString());
    }

    [Fact]
    public async Task InlineMode_BounceBecomesTheSmtpReply()
    {
        await using var server = await TestServer.StartAsync(
            """
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: refuse
                    Enabled: true
                    Recipients: [nobody@example.com]
                    Actions:
                      - BounceAction: { SmtpReplyCode: "550", StatusCode: 5.1.1, Message: Mailbox does not exist, Sender: mailer-daemon@example.com }
                      - StopAction: { Scope: RuleSet }
                  - Name: others
                    Enabled: true
                    Actions: [{ S3Action: { BucketName: kept } }]
            """,
            o => o with { Smtp = o.Smtp with { Mode = Inlet.Core.ProcessingMode.Inline } });

        var e = await Assert.ThrowsAsync<SmtpCommandException>(() => SendAsync(server, NewMessage(["nobody@example.com"])));
        Assert.Equal(SmtpStatusCode.MailboxUnavailable, e.StatusCode);
        Assert.Equal("5.1.1 Mailbox does not exist", e.Message);

        // Nothing was sent back to the sender: the client heard the refusal itself.
        Assert.Equal(0, (await server.GetJsonAsync("/api/outbox")).GetProperty("messages").GetArrayLength());
        var bounced = (await server.GetJsonAsync("/api/messages")).GetProperty("messages")[0];
        Assert.Equal("bounced", bounced.GetProperty("status").GetString());

        // Other recipients are processed before the reply and get a 250.
        var id = await SendAsync(server, NewMessage(["someone@example.com"]));
        Assert.NotNull(ReadObject(server, "kept", id));
        Assert.Equal("processed", (await server.GetDetailAsync(id)).GetProperty("message").GetProperty("status").GetString());
    }

    [Fact]
    public async Task InlineMode_FailedActionGets451AndTheMessageIsNotAccepted()
    {
        await using var server = await TestServer.StartAsync(
            """
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: store
                    Enabled: true
                    Actions: [{ S3Action: { BucketName: vanishing } }]
            """,
            o => o with { Smtp = o.Smtp with { Mode = Inlet.Core.ProcessingMode.Inline } });
        Directory.Delete(Path.Combine(server.Directory, "buckets", "vanishing"), recursive: true);
        var e = await Assert.ThrowsAsync<SmtpCommandException>(() => SendAsync(server, NewMessage(["a@example.com"])));
        Assert.Equal((SmtpStatusCode)451, e.StatusCode);
        var message = (await server.GetJsonAsync("/api/messages")).GetProperty("messages")[0];
        Assert.Equal("rejected", message.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Replay_RunsAStoredMessageThroughTheRulesAgain()
    {
        await using var server = await TestServer.StartAsync("""
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: store
                    Enabled: true
                    Actions: [{ S3Action: { BucketName: replayed } }]
            """);
        var id = await SendAsync(server, NewMessage(["a@example.com"]));
        await server.WaitForMessageAsync(id);
        File.Delete(Path.Combine(server.Directory, "buckets", "replayed", id));

        using var response = await server.Http.PostAsync($"/api/messages/{id}/replay", null);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        for (var i = 0; i < 100 && ReadObject(server, "replayed", id) is null; i++)
        {
            await Task.Delay(50);
        }

        Assert.NotNull(ReadObject(server, "replayed", id));
        await server.WaitForMessageAsync(id);
        var trace = Trace(await server.GetDetailAsync(id));
        Assert.Contains(trace, t => t.GetProperty("kind").GetString() == "note" && t.GetProperty("detail").GetString()!.StartsWith("replayed", StringComparison.Ordinal));
        Assert.Equal(2, trace.Count(t => t.GetProperty("kind").GetString() == "end"));
    }

    [Fact]
    public async Task RulesTest_DryRunShowsTheRulesAndTheMailObjectWithoutStoringAnything()
    {
        await using var server = await TestServer.StartAsync("""
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: first
                    Enabled: true
                    Recipients: [example.com]
                    Actions:
                      - S3Action: { BucketName: dry, ObjectKeyPrefix: inbox }
                      - StopAction: { Scope: RuleSet }
                  - Name: never-reached
                    Enabled: true
                    Recipients: [example.com]
                    Actions: [{ S3Action: { BucketName: dry } }]
            """);
        var eml = "From: Jane <jane@sender.test>\r\nTo: a@example.com\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\r\nbody\r\n";
        using var response = await server.Http.PostAsync("/api/rules/test?from=jane@sender.test&to=a@example.com&to=z@elsewhere.test", new StringContent(eml));
        response.EnsureSuccessStatusCode();
        var result = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("main", result.GetProperty("ruleSet").GetString());
        var rules = result.GetProperty("rules").EnumerateArray().ToList();
        Assert.Equal("first", Assert.Single(rules).GetProperty("name").GetString());
        Assert.Equal(["z@elsewhere.test"], result.GetProperty("unmatched").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("Stop", result.GetProperty("outcome").GetString());
        Assert.Equal("café", result.GetProperty("mail").GetProperty("commonHeaders").GetProperty("subject").GetString());
        // Nothing but the bucket's own creation marker.
        Assert.DoesNotContain(Directory.GetFiles(Path.Combine(server.Directory, "buckets", "dry")), f => !Path.GetFileName(f).StartsWith('!'));
        Assert.Equal(0, (await server.GetJsonAsync("/api/messages")).GetProperty("messages").GetArrayLength());
    }
}
