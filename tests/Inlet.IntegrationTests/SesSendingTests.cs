using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MimeKit;

namespace Inlet.IntegrationTests;

/// <summary>SES sending (v1 Query and SESv2 REST-JSON) and identities through the real aws CLI; delivery through a real relay.</summary>
public partial class SesSendingTests
{
    private const string Rules = """
        ReceiptRuleSets:
          - RuleSetName: main
            Rules:
              - Name: example
                Enabled: true
                Recipients: [example.com, solo@other.test, .sub.test]
        ActiveReceiptRuleSet: main
        Identities: [declared.test, me@file.test]
        """;

    /// <summary>A second Inlet that receives for dest.test: the relay the sent mail reaches.</summary>
    private const string SinkRules = """
        ReceiptRuleSets:
          - RuleSetName: sink
            Rules:
              - Name: destination
                Enabled: true
                Recipients: [dest.test]
        """;

    [GeneratedRegex("^0100[0-9a-f]{12}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-000000$")]
    private static partial Regex SesMessageIdPattern();

    private static async Task<AwsCli.Result> Aws(TestServer server, params string[] arguments) => await AwsCli.RunAsync(server, arguments);

    private static async Task<JsonElement> OkAsync(TestServer server, params string[] arguments)
    {
        var result = await Aws(server, arguments);
        Assert.True(result.ExitCode == 0, $"aws {string.Join(' ', arguments)}: {result.Error}");
        return result.Output.Length == 0 ? default : result.Json;
    }

    private static async Task<string> FailsAsync(TestServer server, string code, params string[] arguments)
    {
        var result = await Aws(server, arguments);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"({code})", result.Error);
        return result.Error;
    }

    /// <summary>The raw message as a file the CLI reads (<c>--raw-message file://…</c>); botocore base64-encodes the text.</summary>
    private static string RawMessageFile(string raw)
    {
        var path = Path.Combine(TestServer.NewDirectory(), "raw.json");
        File.WriteAllText(path, JsonSerializer.Serialize(new Dictionary<string, string> { ["Data"] = raw }));
        return "file://" + path;
    }

    private static string Raw(string from, string to, string extra = "") =>
        $"From: {from}\r\nTo: {to}\r\n{extra}Subject: Forwarded\r\nMessage-ID: <original@client.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHello from a forwarder.\r\n";

    private static async Task<List<JsonElement>> OutboxAsync(TestServer server) =>
        (await server.GetJsonAsync("/api/outbox")).GetProperty("messages").EnumerateArray().ToList();

    private static async Task<JsonElement> WaitForOutboxAsync(TestServer server, Func<JsonElement, bool> condition, string what)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var found = (await OutboxAsync(server)).FirstOrDefault(condition);
            if (found.ValueKind != JsonValueKind.Undefined)
            {
                return found;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"no outbox item {what}: {JsonSerializer.Serialize(await OutboxAsync(server))}");
    }

    private static async Task<MimeMessage> OutboxMessageAsync(TestServer server, JsonElement item) =>
        await MimeMessage.LoadAsync(await server.Http.GetStreamAsync($"/api/outbox/{item.GetProperty("id").GetString()}/raw"));

    private static async Task<JsonElement> WaitForReceivedAsync(TestServer sink)
    {
        for (var i = 0; i < 200; i++)
        {
            var list = (await sink.GetJsonAsync("/api/messages")).GetProperty("messages");
            if (list.GetArrayLength() > 0)
            {
                return list[0];
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("the relay received nothing");
    }

    private static string Status(JsonElement item) => item.GetProperty("status").GetString()!;

    [Fact]
    public async Task SendRawEmail_WithoutSourceOrDestinations_TakesTheEnvelopeFromTheHeadersAndStripsBcc()
    {
        await using var server = await TestServer.StartAsync(Rules);
        var raw = Raw("Me <me@example.com>", "a@dest.test", "Cc: b@dest.test\r\nBcc: hidden@dest.test\r\n");
        var id = (await OkAsync(server, "ses", "send-raw-email", "--raw-message", RawMessageFile(raw))).GetProperty("MessageId").GetString()!;
        Assert.Matches(SesMessageIdPattern(), id);

        var item = Assert.Single(await OutboxAsync(server));
        Assert.Equal("sent", item.GetProperty("kind").GetString());
        Assert.Equal("held", Status(item));
        Assert.Equal(id, item.GetProperty("sesMessageId").GetString());
        Assert.Equal("me@example.com", item.GetProperty("mailFrom").GetString());
        Assert.Equal(["a@dest.test", "b@dest.test", "hidden@dest.test"], item.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));

        var sent = await OutboxMessageAsync(server, item);
        Assert.Empty(sent.Bcc);
        Assert.False(sent.Headers.Contains(HeaderId.Bcc));
        Assert.Equal($"{id}@email.amazonses.com", sent.MessageId);
        Assert.Equal("Forwarded", sent.Subject);
        Assert.Equal("Hello from a forwarder.", sent.TextBody?.Trim());
    }

    [Fact]
    public async Task SendRawEmail_WithSourceAndDestinations_UsesThemInsteadOfTheHeaders()
    {
        await using var server = await TestServer.StartAsync(Rules);
        var raw = Raw("Original Sender <someone@elsewhere.test>", "list@example.com");
        // A forwarder rewrites From to an identity of its own; the header's original From would fail the check.
        await FailsAsync(server, "MessageRejected", "ses", "send-raw-email", "--source", "fwd@example.com", "--destinations", "x@dest.test", "--raw-message", RawMessageFile(raw));
        var rewritten = Raw("Forwarder <fwd@example.com>", "list@example.com");
        await OkAsync(server, "ses", "send-raw-email", "--source", "fwd@example.com", "--destinations", "x@dest.test", "y@dest.test", "--raw-message", RawMessageFile(rewritten));
        var item = Assert.Single(await OutboxAsync(server));
        Assert.Equal("fwd@example.com", item.GetProperty("mailFrom").GetString());
        Assert.Equal(["x@dest.test", "y@dest.test"], item.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));
    }

    [Fact]
    public async Task SendRawEmail_UnverifiedSender_IsRejectedWithSesMessage()
    {
        await using var server = await TestServer.StartAsync(Rules);
        var error = await FailsAsync(server, "MessageRejected", "ses", "send-raw-email", "--raw-message", RawMessageFile(Raw("x@unverified.test", "a@dest.test")));
        Assert.Contains("Email address is not verified. The following identities failed the check in region US-EAST-1: x@unverified.test", error);

        // The rules' recipients are identities: a domain (with its subdomains, as SES's domain identities), an
        // address with its +label forms, a .subdomain condition; and so are the file's Identities.
        foreach (var sender in new[] { "anyone@example.com", "a@sub.example.com", "solo@other.test", "solo+tag@other.test", "a@deep.sub.test", "me@file.test", "b@declared.test", "c@mail.declared.test" })
        {
            await OkAsync(server, "ses", "send-raw-email", "--raw-message", RawMessageFile(Raw(sender, "a@dest.test")));
        }

        foreach (var sender in new[] { "other@other.test", "a@sub.test", "a@example.community", "you@file.test" })
        {
            var refused = await FailsAsync(server, "MessageRejected", "ses", "send-raw-email", "--raw-message", RawMessageFile(Raw(sender, "a@dest.test")));
            Assert.Contains($"in region US-EAST-1: {sender}", refused);
        }

        Assert.Equal(8, (await OutboxAsync(server)).Count);
    }

    [Fact]
    public async Task SendRawEmail_OutsideSesLimits_IsRefusedAsSesRefusesIt()
    {
        await using var server = await TestServer.StartAsync(Rules);
        var noFrom = "To: a@dest.test\r\nSubject: no sender\r\n\r\nbody\r\n";
        Assert.Contains("Missing required header 'From'.", await FailsAsync(server, "InvalidParameterValue", "ses", "send-raw-email", "--raw-message", RawMessageFile(noFrom)));

        var many = Enumerable.Range(0, 51).Select(i => $"r{i}@dest.test").ToArray();
        Assert.Contains("Recipient count exceeds 50.", await FailsAsync(server, "InvalidParameterValue", ["ses", "send-raw-email", "--raw-message", RawMessageFile(Raw("me@example.com", "a@dest.test")), "--destinations", .. many]));
        await OkAsync(server, ["ses", "send-raw-email", "--raw-message", RawMessageFile(Raw("me@example.com", "a@dest.test")), "--destinations", .. many[..50]]);

        Assert.Contains("Missing final '@domain'", await FailsAsync(server, "InvalidParameterValue", "ses", "send-raw-email", "--destinations", "nobody", "--raw-message", RawMessageFile(Raw("me@example.com", "a@dest.test"))));

        var big = Raw("me@example.com", "a@dest.test") + new string('x', 10 * 1024 * 1024);
        Assert.Contains("Message length is more than 10485760 bytes long", await FailsAsync(server, "MessageRejected", "ses", "send-raw-email", "--raw-message", RawMessageFile(big)));
        Assert.Single(await OutboxAsync(server));
    }

    [Fact]
    public async Task SendEmail_VerifiedSource_ComposesTheMessageAsSesDoes()
    {
        await using var server = await TestServer.StartAsync(Rules);
        var id = (await OkAsync(server, "ses", "send-email", "--from", "Me <me@example.com>",
            "--destination", "ToAddresses=a@dest.test,CcAddresses=c@dest.test,BccAddresses=h@dest.test",
            "--reply-to-addresses", "reply@example.com",
            "--message", "Subject={Data=Grüße,Charset=UTF-8},Body={Text={Data=Hello,Charset=UTF-8},Html={Data=<b>Hello</b>}}")).GetProperty("MessageId").GetString()!;
        Assert.Matches(SesMessageIdPattern(), id);

        var item = Assert.Single(await OutboxAsync(server));
        Assert.Equal(["a@dest.test", "c@dest.test", "h@dest.test"], item.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));
        var sent = await OutboxMessageAsync(server, item);
        Assert.Equal("Grüße", sent.Subject);
        Assert.Equal("me@example.com", sent.From.Mailboxes.Single().Address);
        Assert.Equal("Me", sent.From.Mailboxes.Single().Name);
        Assert.Equal("reply@example.com", sent.ReplyTo.Mailboxes.Single().Address);
        Assert.Equal("c@dest.test", sent.Cc.Mailboxes.Single().Address);
        Assert.Empty(sent.Bcc);
        Assert.IsType<MultipartAlternative>(sent.Body);
        Assert.Equal("Hello", sent.TextBody);
        Assert.Equal("<b>Hello</b>", sent.HtmlBody);
        Assert.Equal($"{id}@email.amazonses.com", sent.MessageId);

        await FailsAsync(server, "MessageRejected", "ses", "send-email", "--from", "me@unverified.test", "--destination", "ToAddresses=a@dest.test", "--message", "Subject={Data=x},Body={Text={Data=y}}");
        await FailsAsync(server, "MessageRejected", "ses", "send-email", "--from", "me@example.com", "--return-path", "bounces@unverified.test", "--destination", "ToAddresses=a@dest.test", "--message", "Subject={Data=x},Body={Text={Data=y}}");
        Assert.Contains("Illegal address", await FailsAsync(server, "InvalidParameterValue", "ses", "send-email", "--from", "me@example.com", "--destination", "ToAddresses=a@@dest", "--message", "Subject={Data=x},Body={Text={Data=y}}"));
    }

    [Fact]
    public async Task Identities_VerifyListGetDelete_FollowSesAndSurviveRestart()
    {
        var directory = TestServer.NewDirectory();
        string token;
        await using (var server = await TestServer.StartAsync(Rules, directory: directory))
        {
            await OkAsync(server, "ses", "verify-email-identity", "--email-address", "me@api.test");
            token = (await OkAsync(server, "ses", "verify-domain-identity", "--domain", "example.net")).GetProperty("VerificationToken").GetString()!;
            Assert.Equal(44, token.Length);
            Assert.Equal(token, (await OkAsync(server, "ses", "verify-domain-identity", "--domain", "example.net")).GetProperty("VerificationToken").GetString());
            await FailsAsync(server, "InvalidParameterValue", "ses", "verify-domain-identity", "--domain", "not a domain");

            var all = (await OkAsync(server, "ses", "list-identities")).GetProperty("Identities").EnumerateArray().Select(i => i.GetString()).ToList();
            Assert.Equal(["declared.test", "example.com", "example.net", "me@api.test", "me@file.test", "solo@other.test"], all);
            var domains = (await OkAsync(server, "ses", "list-identities", "--identity-type", "Domain")).GetProperty("Identities").EnumerateArray().Select(i => i.GetString());
            Assert.Equal(["declared.test", "example.com", "example.net"], domains);
            // The CLI follows NextToken through pages of two.
            var page = await OkAsync(server, "ses", "list-identities", "--page-size", "2");
            Assert.Equal(6, page.GetProperty("Identities").GetArrayLength());

            var attributes = (await OkAsync(server, "ses", "get-identity-verification-attributes", "--identities", "example.net", "me@api.test", "unknown.test")).GetProperty("VerificationAttributes");
            Assert.Equal("Success", attributes.GetProperty("example.net").GetProperty("VerificationStatus").GetString());
            Assert.Equal(token, attributes.GetProperty("example.net").GetProperty("VerificationToken").GetString());
            Assert.Equal("Success", attributes.GetProperty("me@api.test").GetProperty("VerificationStatus").GetString());
            Assert.False(attributes.TryGetProperty("unknown.test", out _));
        }

        await using (var server = await TestServer.StartAsync(Rules, directory: directory))
        {
            var all = (await OkAsync(server, "ses", "list-identities")).GetProperty("Identities").EnumerateArray().Select(i => i.GetString()).ToList();
            Assert.Contains("example.net", all);
            Assert.Contains("me@api.test", all);
            var attributes = (await OkAsync(server, "ses", "get-identity-verification-attributes", "--identities", "example.net")).GetProperty("VerificationAttributes");
            Assert.Equal(token, attributes.GetProperty("example.net").GetProperty("VerificationToken").GetString());

            await OkAsync(server, "ses", "send-raw-email", "--raw-message", RawMessageFile(Raw("a@mail.example.net", "a@dest.test")));
            await OkAsync(server, "ses", "delete-identity", "--identity", "example.net");
            await OkAsync(server, "ses", "delete-identity", "--identity", "never.test");
            Assert.DoesNotContain("example.net", (await OkAsync(server, "ses", "list-identities")).GetProperty("Identities").EnumerateArray().Select(i => i.GetString()));
            await FailsAsync(server, "MessageRejected", "ses", "send-raw-email", "--raw-message", RawMessageFile(Raw("a@example.net", "a@dest.test")));
        }
    }

    [Fact]
    public async Task SesV2SendEmail_SimpleRawAndTemplate_AreSentAsSesSendsThem()
    {
        await using var server = await TestServer.StartAsync(Rules);
        var simple = """{"Simple":{"Subject":{"Data":"V2 simple"},"Body":{"Text":{"Data":"plain"},"Html":{"Data":"<p>html</p>"}},"Headers":[{"Name":"X-Campaign","Value":"spring"}]}}""";
        var id = (await OkAsync(server, "sesv2", "send-email", "--from-email-address", "me@example.com", "--destination", "ToAddresses=a@dest.test,BccAddresses=b@dest.test", "--content", simple)).GetProperty("MessageId").GetString()!;
        Assert.Matches(SesMessageIdPattern(), id);

        // Raw without FromEmailAddress or Destination: the headers say both.
        var raw = JsonSerializer.Serialize(new { Raw = new { Data = Raw("me@example.com", "r@dest.test", "Bcc: hidden@dest.test\r\n") } });
        await OkAsync(server, "sesv2", "send-email", "--content", raw);

        var template = """{"Template":{"TemplateContent":{"Subject":"Hi {{name}}","Text":"Dear {{name}}, order {{order.id}}.","Html":"<p>Dear {{name}}</p>"},"TemplateData":"{\"name\":\"Ann & Bob\",\"order\":{\"id\":42}}"}}""";
        await OkAsync(server, "sesv2", "send-email", "--from-email-address", "me@example.com", "--destination", "ToAddresses=t@dest.test", "--content", template);

        var items = await OutboxAsync(server);
        Assert.Equal(3, items.Count);
        Assert.All(items, i => Assert.Equal("sent", i.GetProperty("kind").GetString()));

        var simpleItem = items.Single(i => i.GetProperty("sesMessageId").GetString() == id);
        Assert.Equal(["a@dest.test", "b@dest.test"], simpleItem.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));
        var simpleMessage = await OutboxMessageAsync(server, simpleItem);
        Assert.Equal("V2 simple", simpleMessage.Subject);
        Assert.Equal("spring", simpleMessage.Headers["X-Campaign"]);
        Assert.Equal("<p>html</p>", simpleMessage.HtmlBody);
        Assert.Empty(simpleMessage.Bcc);

        var rawItem = items.Single(i => i.GetProperty("subject").GetString() == "Forwarded");
        Assert.Equal("me@example.com", rawItem.GetProperty("mailFrom").GetString());
        Assert.Equal(["r@dest.test", "hidden@dest.test"], rawItem.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));
        Assert.False((await OutboxMessageAsync(server, rawItem)).Headers.Contains(HeaderId.Bcc));

        var templated = await OutboxMessageAsync(server, items.Single(i => i.GetProperty("subject").GetString()!.StartsWith("Hi ", StringComparison.Ordinal)));
        Assert.Equal("Hi Ann & Bob", templated.Subject);
        Assert.Equal("Dear Ann & Bob, order 42.", templated.TextBody);
        Assert.Equal("<p>Dear Ann &amp; Bob</p>", templated.HtmlBody);

        Assert.Contains("Email address is not verified. The following identities failed the check in region US-EAST-1: x@unverified.test",
            await FailsAsync(server, "MessageRejected", "sesv2", "send-email", "--from-email-address", "x@unverified.test", "--destination", "ToAddresses=a@dest.test", "--content", simple));
        await FailsAsync(server, "NotFoundException", "sesv2", "send-email", "--from-email-address", "me@example.com", "--destination", "ToAddresses=a@dest.test", "--content", """{"Template":{"TemplateName":"welcome","TemplateData":"{}"}}""");
        await FailsAsync(server, "BadRequestException", "sesv2", "send-email", "--content", JsonSerializer.Serialize(new { Raw = new { Data = "To: a@dest.test\r\n\r\nno sender\r\n" } }));
        Assert.Equal(3, (await OutboxAsync(server)).Count);
    }

    [Fact]
    public async Task SesV2Identities_CreateGetListDelete_AnswerAsSesV2()
    {
        await using var server = await TestServer.StartAsync(Rules);
        var created = await OkAsync(server, "sesv2", "create-email-identity", "--email-identity", "example.org");
        Assert.Equal("DOMAIN", created.GetProperty("IdentityType").GetString());
        Assert.True(created.GetProperty("VerifiedForSendingStatus").GetBoolean());
        await FailsAsync(server, "AlreadyExistsException", "sesv2", "create-email-identity", "--email-identity", "example.org");
        Assert.Equal("EMAIL_ADDRESS", (await OkAsync(server, "sesv2", "create-email-identity", "--email-identity", "me@v2.test")).GetProperty("IdentityType").GetString());

        var got = await OkAsync(server, "sesv2", "get-email-identity", "--email-identity", "me@v2.test");
        Assert.Equal("SUCCESS", got.GetProperty("VerificationStatus").GetString());
        Assert.True(got.GetProperty("VerifiedForSendingStatus").GetBoolean());
        Assert.Equal("DOMAIN", (await OkAsync(server, "sesv2", "get-email-identity", "--email-identity", "example.com")).GetProperty("IdentityType").GetString());

        var listed = (await OkAsync(server, "sesv2", "list-email-identities")).GetProperty("EmailIdentities").EnumerateArray().ToList();
        Assert.Contains(listed, i => i.GetProperty("IdentityName").GetString() == "example.org" && i.GetProperty("SendingEnabled").GetBoolean());
        Assert.Contains(listed, i => i.GetProperty("IdentityName").GetString() == "example.com");

        await OkAsync(server, "sesv2", "send-email", "--from-email-address", "news@example.org", "--destination", "ToAddresses=a@dest.test", "--content", """{"Simple":{"Subject":{"Data":"s"},"Body":{"Text":{"Data":"t"}}}}""");
        await OkAsync(server, "sesv2", "delete-email-identity", "--email-identity", "example.org");
        await FailsAsync(server, "NotFoundException", "sesv2", "get-email-identity", "--email-identity", "example.org");
        await FailsAsync(server, "NotFoundException", "sesv2", "delete-email-identity", "--email-identity", "example.org");
        await FailsAsync(server, "BadRequestException", "sesv2", "delete-email-identity", "--email-identity", "declared.test");
        await FailsAsync(server, "MessageRejected", "sesv2", "send-email", "--from-email-address", "news@example.org", "--destination", "ToAddresses=a@dest.test", "--content", """{"Simple":{"Subject":{"Data":"s"},"Body":{"Text":{"Data":"t"}}}}""");
    }

    [Fact]
    public async Task SendBounce_ForAReceivedMessage_PutsADsnNamingTheOriginalInTheOutbox()
    {
        await using var server = await TestServer.StartAsync(Rules);
        var original = new MimeMessage();
        original.From.Add(MailboxAddress.Parse("sender@sender.test"));
        original.To.Add(MailboxAddress.Parse("gone@example.com"));
        original.Subject = "To be bounced";
        original.MessageId = "bounce-me@sender.test";
        original.Body = new TextPart("plain") { Text = "Hello.\n" };
        var receivedId = await ReceiptRuleTests.SendAsync(server, original);
        await server.WaitForMessageAsync(receivedId);

        var id = (await OkAsync(server, "ses", "send-bounce", "--original-message-id", receivedId, "--bounce-sender", "mailer-daemon@example.com",
            "--explanation", "gone@example.com left the company.",
            "--message-dsn", "ReportingMta=mx.example.com",
            "--bounced-recipient-info-list", "Recipient=gone@example.com,BounceType=DoesNotExist")).GetProperty("MessageId").GetString()!;
        Assert.Matches(SesMessageIdPattern(), id);

        var item = Assert.Single(await OutboxAsync(server));
        Assert.Equal("bounce", item.GetProperty("kind").GetString());
        Assert.Equal(receivedId, item.GetProperty("messageId").GetString());
        Assert.Equal(string.Empty, item.GetProperty("mailFrom").GetString());
        Assert.Equal(["sender@sender.test"], item.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));

        var dsn = await OutboxMessageAsync(server, item);
        Assert.Equal("mailer-daemon@example.com", dsn.From.Mailboxes.Single().Address);
        Assert.Equal("sender@sender.test", dsn.To.Mailboxes.Single().Address);
        Assert.Equal($"{id}@email.amazonses.com", dsn.MessageId);
        var report = Assert.IsType<MultipartReport>(dsn.Body);
        Assert.Equal("delivery-status", report.ReportType);
        Assert.Contains("left the company", ((TextPart)report[0]).Text);
        var status = Assert.IsType<MessageDeliveryStatus>(report[1]);
        Assert.Equal("dns; mx.example.com", status.StatusGroups[0]["Reporting-MTA"]);
        Assert.Equal("rfc822; gone@example.com", status.StatusGroups[1]["Final-Recipient"]);
        Assert.Equal("failed", status.StatusGroups[1]["Action"]);
        Assert.Equal("5.1.1", status.StatusGroups[1]["Status"]);
        var originalHeaders = ((MessagePart)report[2]).Message!;
        Assert.Equal("bounce-me@sender.test", originalHeaders.MessageId);
        Assert.Equal("To be bounced", originalHeaders.Subject);

        await OkAsync(server, "ses", "send-bounce", "--original-message-id", receivedId, "--bounce-sender", "mailer-daemon@example.com",
            "--bounced-recipient-info-list", "Recipient=gone@example.com,RecipientDsnFields={Action=delayed,Status=4.2.2,DiagnosticCode=smtp; 452 4.2.2 Mailbox full}");
        var delayed = await OutboxMessageAsync(server, (await OutboxAsync(server))[0]);
        var delayedStatus = Assert.IsType<MessageDeliveryStatus>(Assert.IsType<MultipartReport>(delayed.Body)[1]);
        Assert.Equal("4.2.2", delayedStatus.StatusGroups[1]["Status"]);
        Assert.Equal("delayed", delayedStatus.StatusGroups[1]["Action"]);
        Assert.Equal("smtp; 452 4.2.2 Mailbox full", delayedStatus.StatusGroups[1]["Diagnostic-Code"]);

        await FailsAsync(server, "MessageRejected", "ses", "send-bounce", "--original-message-id", "0000000000000-nothing", "--bounce-sender", "mailer-daemon@example.com", "--bounced-recipient-info-list", "Recipient=gone@example.com,BounceType=DoesNotExist");
        await FailsAsync(server, "MessageRejected", "ses", "send-bounce", "--original-message-id", receivedId, "--bounce-sender", "daemon@unverified.test", "--bounced-recipient-info-list", "Recipient=gone@example.com,BounceType=DoesNotExist");
        Assert.Equal(2, (await OutboxAsync(server)).Count);
    }

    [Fact]
    public async Task Relay_SentMail_ReachesARealSmtpServerWithItsEnvelope()
    {
        await using var sink = await TestServer.StartAsync(SinkRules);
        await using var server = await TestServer.StartAsync(Rules, o => o with { Outbound = o.Outbound with { Host = "127.0.0.1", Port = sink.SmtpPort, Security = "None" } });
        var id = (await OkAsync(server, "ses", "send-raw-email", "--raw-message", RawMessageFile(Raw("me@example.com", "a@dest.test", "Bcc: hidden@dest.test\r\n")))).GetProperty("MessageId").GetString()!;

        var item = await WaitForOutboxAsync(server, i => Status(i) == "sent", "sent");
        Assert.Equal(1, item.GetProperty("attempts").GetInt32());
        Assert.Contains("sent through 127.0.0.1", item.GetProperty("lastError").GetString());

        var received = await WaitForReceivedAsync(sink);
        var envelope = received.GetProperty("envelope");
        Assert.Equal("me@example.com", envelope.GetProperty("mailFrom").GetString());
        Assert.Equal(["a@dest.test", "hidden@dest.test"], envelope.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));
        var raw = await sink.Http.GetStringAsync($"/api/messages/{received.GetProperty("messageId").GetString()}/raw");
        Assert.Contains($"Message-ID: <{id}@email.amazonses.com>", raw);
        Assert.DoesNotContain("Bcc:", raw);
    }

    [Fact]
    public async Task Relay_TemporaryFailureIsRetriedAndPermanentFailureEndsTheItem()
    {
        // In inline mode a failed action answers 451: the sink refuses for now until its bucket exists.
        await using var sink = await TestServer.StartAsync("""
            ReceiptRuleSets:
              - RuleSetName: sink
                Rules:
                  - Name: later
                    Enabled: true
                    Recipients: [retry.test]
                    Actions: [{ S3Action: { BucketName: made-later } }]
            """, o => o with { Smtp = o.Smtp with { Mode = Inlet.Core.ProcessingMode.Inline } });
        Directory.Delete(Path.Combine(sink.Directory, "buckets", "made-later"), recursive: true);
        await using var server = await TestServer.StartAsync(Rules, o => o with { Outbound = o.Outbound with { Host = "127.0.0.1", Port = sink.SmtpPort, Security = "None", RetryDelay = TimeSpan.FromMilliseconds(200) } });

        await OkAsync(server, "ses", "send-raw-email", "--raw-message", RawMessageFile(Raw("me@example.com", "x@retry.test")));
        await OkAsync(server, "ses", "send-raw-email", "--raw-message", RawMessageFile(Raw("me@example.com", "y@nowhere.test")));

        var refused = await WaitForOutboxAsync(server, i => Status(i) == "failed", "failed");
        Assert.Equal("y@nowhere.test", refused.GetProperty("recipient").GetString());
        Assert.StartsWith("550", refused.GetProperty("lastError").GetString());

        var waiting = await WaitForOutboxAsync(server, i => Status(i) == "pending" && i.GetProperty("attempts").GetInt32() >= 2, "retried");
        Assert.StartsWith("451", waiting.GetProperty("lastError").GetString());

        Directory.CreateDirectory(Path.Combine(sink.Directory, "buckets", "made-later"));
        var sent = await WaitForOutboxAsync(server, i => Status(i) == "sent", "sent after the retry");
        Assert.Equal("x@retry.test", sent.GetProperty("recipient").GetString());
        Assert.True(sent.GetProperty("attempts").GetInt32() >= 3);
        Assert.Equal("failed", Status((await OutboxAsync(server)).Single(i => i.GetProperty("recipient").GetString() == "y@nowhere.test")));
    }

    [Fact]
    public async Task Outbox_ItemsSurviveRestart_AndAPendingOneIsDeliveredAfterIt()
    {
        // A port with nothing behind it yet: the relay is down when the message is sent.
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();

        var directory = TestServer.NewDirectory();
        Func<Inlet.Hosting.InletOptions, Inlet.Hosting.InletOptions> relay = o => o with { Outbound = o.Outbound with { Host = "127.0.0.1", Port = port, Security = "None", RetryDelay = TimeSpan.FromMilliseconds(300) } };
        string id;
        await using (var server = await TestServer.StartAsync(Rules, relay, directory))
        {
            id = (await OkAsync(server, "ses", "send-raw-email", "--raw-message", RawMessageFile(Raw("me@example.com", "a@dest.test")))).GetProperty("MessageId").GetString()!;
            var pending = await WaitForOutboxAsync(server, i => Status(i) == "pending" && i.GetProperty("attempts").GetInt32() >= 1, "pending after a failed attempt");
            Assert.Contains("Exception", pending.GetProperty("lastError").GetString());
        }

        await using var sink = await TestServer.StartAsync(SinkRules, o => o with { Smtp = o.Smtp with { Listen = $"127.0.0.1:{port}" } });
        await using (var server = await TestServer.StartAsync(Rules, relay, directory))
        {
            var sent = await WaitForOutboxAsync(server, i => Status(i) == "sent", "sent after the restart");
            Assert.Equal(id, sent.GetProperty("sesMessageId").GetString());
            var received = await WaitForReceivedAsync(sink);
            var raw = await sink.Http.GetStringAsync($"/api/messages/{received.GetProperty("messageId").GetString()}/raw");
            Assert.Contains($"<{id}@email.amazonses.com>", raw);
        }

        // Without a relay, a held item is still listed and readable after a restart.
        await using (var server = await TestServer.StartAsync(Rules, directory: directory))
        {
            await OkAsync(server, "ses", "send-raw-email", "--raw-message", RawMessageFile(Raw("me@example.com", "held@dest.test")));
        }

        await using (var server = await TestServer.StartAsync(Rules, directory: directory))
        {
            var held = (await OutboxAsync(server)).Single(i => Status(i) == "held");
            Assert.Equal("held@dest.test", held.GetProperty("recipient").GetString());
            Assert.Equal("Forwarded", (await OutboxMessageAsync(server, held)).Subject);
        }

        Directory.Delete(directory, recursive: true);
    }
}
