using System.Text;

namespace Inlet.IntegrationTests;

/// <summary>The protocol at the socket: what real clients do wrong, and what attackers try.</summary>
public class SmtpProtocolTests
{
    private static async Task<RawSmtpClient> GreetedAsync(TestServer server, string ehlo = "EHLO client.test\r\n")
    {
        var client = await RawSmtpClient.ConnectAsync(server.Smtp);
        await client.ExpectAsync(220);
        await client.SendAsync(ehlo);
        await client.ExpectAsync(250);
        return client;
    }

    [Fact]
    public async Task Ehlo_AdvertisesTheExtensions()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await RawSmtpClient.ConnectAsync(server.Smtp);
        var greeting = await client.ExpectAsync(220);
        Assert.Contains("ESMTP", greeting);
        await client.SendAsync("EHLO client.test\r\n");
        var ehlo = await client.ExpectAsync(250);
        foreach (var extension in new[] { "PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 41943040", "ENHANCEDSTATUSCODES", "CHUNKING", "STARTTLS" })
        {
            Assert.Contains("250-" + extension, ehlo.Replace("250 " + extension, "250-" + extension, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Pipelining_WholeTransactionInOneWrite_GetsEveryReplyInOrder()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await GreetedAsync(server);
        await client.SendAsync("MAIL FROM:<a@sender.test>\r\nRCPT TO:<one@example.com>\r\nRCPT TO:<nobody@nowhere.test>\r\nRCPT TO:<two@example.com>\r\nDATA\r\n");
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(550);
        await client.ExpectAsync(250);
        await client.ExpectAsync(354);
        await client.SendAsync("Subject: piped\r\n\r\nhello\r\n.\r\nQUIT\r\n");
        var accepted = await client.ExpectAsync(250);
        await client.ExpectAsync(221);
        var message = await server.WaitForMessageAsync(accepted.Split(' ').Last());
        var recipients = message.GetProperty("envelope").GetProperty("recipients");
        Assert.Equal(["one@example.com", "two@example.com"], recipients.EnumerateArray().Select(r => r.GetString()));
    }

    [Theory]
    [InlineData("\n.\n")]
    [InlineData("\r\n.\n")]
    [InlineData("\n.\r\n")]
    [InlineData("\r.\r\n")]
    public async Task Data_SmugglingAttempt_IsRefusedAndTheSmuggledCommandsNeverRun(string fakeEnd)
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await GreetedAsync(server);
        await client.SendAsync("MAIL FROM:<a@sender.test>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n");
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(354);
        await client.SendAsync($"Subject: outer\r\n\r\ntext{fakeEnd}MAIL FROM:<spoof@bank.test>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n");
        var reply = await client.ExpectAsync(550);
        Assert.Contains("5.5.2", reply);
        Assert.Contains("bare CR or LF", reply);

        // The session goes on: the smuggled MAIL/RCPT/DATA were message data, not commands.
        await client.SendAsync("NOOP\r\n");
        await client.ExpectAsync(250);
        var list = await server.GetJsonAsync("/api/messages");
        Assert.Equal(0, list.GetProperty("messages").GetArrayLength());
    }

    [Fact]
    public async Task Data_OverSizeLimit_Gets552AndNothingIsStored()
    {
        await using var server = await TestServer.StartAsync(adjust: o => o with { Smtp = o.Smtp with { MaxMessageSize = 2048 } });
        await using var client = await GreetedAsync(server);
        await client.SendAsync("MAIL FROM:<a@sender.test>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n");
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(354);
        var body = new StringBuilder("Subject: big\r\n\r\n");
        for (var i = 0; i < 100; i++)
        {
            body.Append("0123456789012345678901234567890123456789\r\n");
        }

        await client.SendAsync(body + ".\r\n");
        var reply = await client.ExpectAsync(552);
        Assert.Contains("5.3.4", reply);
        await client.SendAsync("NOOP\r\n");
        await client.ExpectAsync(250);
        Assert.Equal(0, (await server.GetJsonAsync("/api/messages")).GetProperty("messages").GetArrayLength());
        Assert.Empty(Directory.GetFiles(Path.Combine(server.Directory, "spool"), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Mail_DeclaredSizeOverLimit_Gets552AtMail()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await GreetedAsync(server);
        await client.SendAsync("MAIL FROM:<a@sender.test> SIZE=41943041\r\n");
        Assert.Contains("5.3.4", await client.ExpectAsync(552));
        await client.SendAsync("MAIL FROM:<a@sender.test> SIZE=41943040\r\n");
        await client.ExpectAsync(250);
    }

    [Fact]
    public async Task CommandLine_TooLong_Gets500AndTheSessionGoesOn()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await GreetedAsync(server);
        await client.SendAsync("NOOP " + new string('x', 5000) + "\r\nNOOP\r\n");
        Assert.Contains("5.5.6", await client.ExpectAsync(500));
        await client.ExpectAsync(250);
    }

    [Fact]
    public async Task DataLine_TooLong_Gets500AfterTheData()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await GreetedAsync(server);
        await client.SendAsync("MAIL FROM:<a@sender.test>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n");
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(354);
        await client.SendAsync("Subject: long\r\n\r\n" + new string('y', 1200) + "\r\n.\r\n");
        Assert.Contains("1000 octets", await client.ExpectAsync(500));
    }

    [Theory]
    [InlineData("RCPT TO:<x@example.com>\r\n", 503)]
    [InlineData("DATA\r\n", 503)]
    [InlineData("BDAT 0 LAST\r\n", 503)]
    public async Task Sequence_CommandBeforeMail_Gets503(string command, int code)
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await GreetedAsync(server);
        await client.SendAsync(command);
        Assert.Contains("5.5.1", await client.ExpectAsync(code));
    }

    [Fact]
    public async Task Sequence_MailBeforeEhlo_Gets503()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await RawSmtpClient.ConnectAsync(server.Smtp);
        await client.ExpectAsync(220);
        await client.SendAsync("MAIL FROM:<a@b.test>\r\n");
        await client.ExpectAsync(503);
    }

    [Fact]
    public async Task Sequence_DataWithoutAcceptedRecipient_Gets503()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await GreetedAsync(server);
        await client.SendAsync("MAIL FROM:<a@sender.test>\r\nRCPT TO:<nobody@nowhere.test>\r\nDATA\r\n");
        await client.ExpectAsync(250);
        await client.ExpectAsync(550);
        await client.ExpectAsync(503);
    }

    [Theory]
    [InlineData("XYZZY\r\n", 500, "5.5.2")]
    [InlineData("MAIL FROM:<a@b.test> FOO=bar\r\n", 555, "5.5.4")]
    [InlineData("MAIL FROM:<a@b.test> BODY=BINARYMIME\r\n", 555, "5.5.4")]
    [InlineData("MAIL TO:<a@b.test>\r\n", 501, "5.5.4")]
    [InlineData("MAIL FROM:<not an address>\r\n", 501, "5.1.7")]
    [InlineData("MAIL FROM:<δ@b.test>\r\n", 553, "5.6.7")]
    [InlineData("EXPN list\r\n", 502, "5.5.1")]
    [InlineData("VRFY someone\r\n", 252, "2.5.0")]
    [InlineData("HELP\r\n", 214, "2.0.0")]
    public async Task Command_Errors_GetTheirReplyAndEnhancedCode(string command, int code, string enhanced)
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await GreetedAsync(server);
        await client.SendAsync(command);
        Assert.Contains(enhanced, await client.ExpectAsync(code));
        await client.SendAsync("NOOP\r\n");
        await client.ExpectAsync(250);
    }

    [Fact]
    public async Task Rcpt_ParametersAndBadAddresses_AreRefused()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await GreetedAsync(server);
        await client.SendAsync("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@example.com> NOTIFY=NEVER\r\nRCPT TO:<broken>\r\nRCPT TO:<δ@example.com>\r\n");
        await client.ExpectAsync(250);
        await client.ExpectAsync(555);
        Assert.Contains("5.1.3", await client.ExpectAsync(501));
        await client.ExpectAsync(553);
    }

    [Fact]
    public async Task SmtpUtf8_InternationalAddress_IsAccepted()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await GreetedAsync(server);
        await client.SendAsync("MAIL FROM:<δοκιμή@sender.test> SMTPUTF8\r\nRCPT TO:<χρήστης@example.com>\r\nDATA\r\n");
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(354);
        await client.SendAsync("Subject: =?utf-8?q?=CE=B3=CE=B5=CE=B9=CE=B1?=\r\n\r\nhi\r\n.\r\n");
        var id = (await client.ExpectAsync(250)).Split(' ').Last();
        var message = await server.WaitForMessageAsync(id);
        Assert.Equal("χρήστης@example.com", message.GetProperty("envelope").GetProperty("recipients")[0].GetString());
        Assert.Equal("γεια", message.GetProperty("subject").GetString());
    }

    [Fact]
    public async Task Rcpt_PastTheLimit_Gets452()
    {
        await using var server = await TestServer.StartAsync(adjust: o => o with { Smtp = o.Smtp with { MaxRecipients = 2 } });
        await using var client = await GreetedAsync(server);
        await client.SendAsync("MAIL FROM:<a@b.test>\r\nRCPT TO:<1@example.com>\r\nRCPT TO:<2@example.com>\r\nRCPT TO:<3@example.com>\r\n");
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        Assert.Contains("4.5.3", await client.ExpectAsync(452));
    }

    [Fact]
    public async Task BadCommands_PastTheLimit_Close421()
    {
        await using var server = await TestServer.StartAsync(adjust: o => o with { Smtp = o.Smtp with { MaxBadCommands = 3 } });
        await using var client = await GreetedAsync(server);
        await client.SendAsync("BAD1\r\nBAD2\r\nBAD3\r\nNOOP\r\n");
        await client.ExpectAsync(500);
        await client.ExpectAsync(500);
        Assert.Contains("Too many errors", await client.ExpectAsync(421));
        Assert.True(await client.IsClosedAsync());
    }

    [Fact]
    public async Task StartTls_WithPipelinedPlaintext_ClosesWithoutRunningIt()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await GreetedAsync(server);
        await client.SendAsync("STARTTLS\r\nMAIL FROM:<attacker@evil.test>\r\n");
        Assert.Contains("pipelined after STARTTLS", await client.ExpectAsync(554));
        Assert.True(await client.IsClosedAsync());
    }

    [Fact]
    public async Task StartTls_Handshake_ResetsTheSession()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await GreetedAsync(server);
        await client.SendAsync("MAIL FROM:<a@b.test>\r\nSTARTTLS\r\nRSET\r\n");
        await client.ExpectAsync(250);
        Assert.Contains("5.5.1", await client.ExpectAsync(503)); // not in the middle of a transaction
        await client.ExpectAsync(250);
        await client.SendAsync("STARTTLS\r\n");
        await client.ExpectAsync(220);
        await client.StartTlsAsync();

        // RFC 3207 §4.2: the EHLO is forgotten; the client must greet again.
        await client.SendAsync("MAIL FROM:<a@b.test>\r\n");
        await client.ExpectAsync(503);
        await client.SendAsync("EHLO again.test\r\n");
        var ehlo = await client.ExpectAsync(250);
        Assert.DoesNotContain("STARTTLS", ehlo);
        await client.SendAsync("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@secure.example.org>\r\nSTARTTLS\r\n");
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(503);
    }

    [Fact]
    public async Task IdleClient_IsClosedWith421AfterTheCommandTimeout()
    {
        await using var server = await TestServer.StartAsync(adjust: o => o with { Smtp = o.Smtp with { CommandTimeout = TimeSpan.FromMilliseconds(300) } });
        await using var client = await GreetedAsync(server);
        Assert.Contains("4.4.2", await client.ExpectAsync(421));
        Assert.True(await client.IsClosedAsync());
    }

    [Fact]
    public async Task StalledData_IsClosedWith421AfterTheDataTimeout()
    {
        await using var server = await TestServer.StartAsync(adjust: o => o with { Smtp = o.Smtp with { DataTimeout = TimeSpan.FromMilliseconds(300) } });
        await using var client = await GreetedAsync(server);
        await client.SendAsync("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n");
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(354);
        await client.SendAsync("Subject: half\r\n");
        Assert.Contains("4.4.2", await client.ExpectAsync(421));
        Assert.True(await client.IsClosedAsync());
        Assert.Equal(0, (await server.GetJsonAsync("/api/messages")).GetProperty("messages").GetArrayLength());
    }

    [Fact]
    public async Task Bdat_Chunks_AreJoinedIntoOneMessage()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await GreetedAsync(server);
        var part1 = "Subject: chunked\r\n\r\n.first line starts with a dot\r\n";
        var part2 = "second\r\n";
        await client.SendAsync($"MAIL FROM:<a@b.test>\r\nRCPT TO:<x@example.com>\r\nBDAT {part1.Length}\r\n{part1}BDAT {part2.Length} LAST\r\n{part2}");
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        Assert.Contains($"{part1.Length} octets", await client.ExpectAsync(250));
        var id = (await client.ExpectAsync(250)).Split(' ').Last();
        await server.WaitForMessageAsync(id);
        var raw = await server.Http.GetStringAsync($"/api/messages/{id}/raw");
        Assert.Equal(part1 + part2, raw);
    }

    [Fact]
    public async Task Bdat_Refused_StillConsumesTheChunk()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await GreetedAsync(server);
        // No MAIL FROM: the BDAT is refused, and its 12 octets must not be read as commands.
        await client.SendAsync("BDAT 12 LAST\r\nQUIT\r\nQUIT\r\nNOOP\r\n");
        await client.ExpectAsync(503);
        await client.ExpectAsync(250);
    }

    [Fact]
    public async Task Bdat_ThenRset_DiscardsThePartialMessage()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await GreetedAsync(server);
        await client.SendAsync("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@example.com>\r\nBDAT 6\r\nA: b\r\nRSET\r\nNOOP\r\n");
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await Task.Delay(100);
        Assert.Empty(Directory.GetFiles(Path.Combine(server.Directory, "spool"), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Rset_ForgetsTheTransaction()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await GreetedAsync(server);
        await client.SendAsync("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@example.com>\r\nRSET\r\nDATA\r\n");
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(503);
    }

    [Fact]
    public async Task IpFilter_BlockedClient_Gets554AtConnect()
    {
        const string yaml = TestServer.DefaultRules + """

            ReceiptFilters:
              - Name: block-loopback
                IpFilter: { Policy: Block, Cidr: 127.0.0.0/8 }
            """;
        await using var server = await TestServer.StartAsync(yaml);
        await using var client = await RawSmtpClient.ConnectAsync(server.Smtp);
        Assert.Contains("5.7.1", await client.ExpectAsync(554));
        Assert.True(await client.IsClosedAsync());
    }

    [Fact]
    public async Task IpFilter_AllowOverridesBlock()
    {
        const string yaml = TestServer.DefaultRules + """

            ReceiptFilters:
              - Name: block-all
                IpFilter: { Policy: Block, Cidr: 0.0.0.0/0 }
              - Name: allow-me
                IpFilter: { Policy: Allow, Cidr: 127.0.0.1 }
            """;
        await using var server = await TestServer.StartAsync(yaml);
        await using var client = await RawSmtpClient.ConnectAsync(server.Smtp);
        await client.ExpectAsync(220);
    }

    [Fact]
    public async Task Connections_PerClientLimit_Gets421()
    {
        await using var server = await TestServer.StartAsync(adjust: o => o with { Smtp = o.Smtp with { MaxConnectionsPerClient = 2 } });
        await using var first = await RawSmtpClient.ConnectAsync(server.Smtp);
        await first.ExpectAsync(220);
        await using var second = await RawSmtpClient.ConnectAsync(server.Smtp);
        await second.ExpectAsync(220);
        await using var third = await RawSmtpClient.ConnectAsync(server.Smtp);
        Assert.Contains("Too many connections", await third.ExpectAsync(421));
    }

    [Fact]
    public async Task NoActiveRuleSet_RefusesEveryRecipient()
    {
        await using var server = await TestServer.StartAsync("");
        await using var client = await GreetedAsync(server);
        await client.SendAsync("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@example.com>\r\n");
        await client.ExpectAsync(250);
        Assert.Contains("no receipt rule set is active", await client.ExpectAsync(550));
    }
}
