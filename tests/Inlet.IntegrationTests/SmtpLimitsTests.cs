using System.Diagnostics;
using System.Net;

namespace Inlet.IntegrationTests;

/// <summary>Deadlines, data rates and connection slots: what keeps slow clients from holding the SMTP endpoint.</summary>
public sealed class SmtpLimitsTests
{
    private static async Task<RawSmtpClient> GreetedAsync(TestServer server, IPAddress? local = null)
    {
        var client = await RawSmtpClient.ConnectAsync(server.Smtp, local);
        await client.ExpectAsync(220);
        await client.SendAsync("EHLO client.test\r\n");
        await client.ExpectAsync(250);
        return client;
    }

    [Fact]
    public async Task DribbledCommandLine_IsCutOffWith421AtTheCommandDeadline()
    {
        await using var server = await TestServer.StartAsync(adjust: o => o with { Smtp = o.Smtp with { CommandTimeout = TimeSpan.FromSeconds(2) } });
        await using var client = await GreetedAsync(server);
        var clock = Stopwatch.StartNew();
        var reply = Task.Run(client.ReadReplyAsync);
        // One byte every 200 ms: each byte used to restart the timer, so the line never timed out.
        foreach (var b in "MAIL FROM:<slow@sender.test>"u8.ToArray())
        {
            if (reply.IsCompleted)
            {
                break;
            }

            try
            {
                await client.SendAsync([b]);
            }
            catch (IOException)
            {
                break;
            }

            await Task.Delay(200);
        }

        var text = await reply;
        Assert.NotNull(text);
        Assert.StartsWith("421 4.4.2", text);
        // A deadline restarted by each byte would cut the line off after 7.6 s (28 bytes, then 2 s).
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(6));
        Assert.True(await client.IsClosedAsync());
    }

    [Fact]
    public async Task MessageDataBelowTheMinimumRate_IsCutOffWith421AfterTheGracePeriod()
    {
        await using var server = await TestServer.StartAsync(adjust: o => o with { Smtp = o.Smtp with { MinDataRate = 1000, MinDataRateGracePeriod = TimeSpan.FromSeconds(1) } });
        await using var client = await GreetedAsync(server);
        await client.SendAsync("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n");
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(354);
        var clock = Stopwatch.StartNew();
        var reply = Task.Run(client.ReadReplyAsync);
        for (var i = 0; i < 40 && !reply.IsCompleted; i++)
        {
            try
            {
                await client.SendAsync("X-Slow: 12345\r\n");
            }
            catch (IOException)
            {
                break;
            }

            await Task.Delay(100);
        }

        var text = await reply;
        Assert.NotNull(text);
        Assert.StartsWith("421 4.4.2", text);
        // The sender goes on for 4 s; a rate that is not enforced ends the data no sooner than that.
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(3.9));
        Assert.Equal(0, (await server.GetJsonAsync("/api/messages")).GetProperty("messages").GetArrayLength());
    }

    [Fact]
    public async Task BusySession_EndsWith421AtTheSessionTimeLimit()
    {
        await using var server = await TestServer.StartAsync(adjust: o => o with { Smtp = o.Smtp with { MaxSessionTime = TimeSpan.FromSeconds(1.5) } });
        // The clock starts before the connection, so it runs at least as long as the session's own (a loaded machine
        // can take a while to greet); the upper bound only says the limit was not ignored.
        var clock = Stopwatch.StartNew();
        await using var client = await GreetedAsync(server);
        string? reply;
        do
        {
            await client.SendAsync("NOOP\r\n");
            reply = await client.ReadReplyAsync();
            await Task.Delay(100);
        }
        while (reply is not null && reply.StartsWith("250", StringComparison.Ordinal) && clock.Elapsed < TimeSpan.FromSeconds(10));

        Assert.NotNull(reply);
        Assert.StartsWith("421 4.4.2", reply);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.4), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task SlowClientsFromManyAddresses_CannotLockOutAClientThatSendsMail()
    {
        await using var server = await TestServer.StartAsync(adjust: o => o with
        {
            Smtp = o.Smtp with { MaxConnections = 20, MaxConnectionsPerClient = 5, ReclaimIdleAfter = TimeSpan.FromSeconds(1) },
        });
        var slow = new List<RawSmtpClient>();
        try
        {
            for (var address = 2; address <= 5; address++)
            {
                for (var i = 0; i < 5; i++)
                {
                    var client = await RawSmtpClient.ConnectAsync(server.Smtp, IPAddress.Parse($"127.0.0.{address}"));
                    await client.ExpectAsync(220);
                    // Half a command, then nothing: the slot is held without progress.
                    await client.SendAsync("EH");
                    slow.Add(client);
                }
            }

            await Task.Delay(1500);
            await using var legitimate = await GreetedAsync(server);
            await legitimate.SendAsync("MAIL FROM:<a@sender.test>\r\nRCPT TO:<x@example.com>\r\nDATA\r\nSubject: through\r\n\r\nhello\r\n.\r\n");
            await legitimate.ExpectAsync(250);
            await legitimate.ExpectAsync(250);
            await legitimate.ExpectAsync(354);
            await legitimate.ExpectAsync(250);

            // One slow client made room, and was told why.
            var replies = await Task.WhenAll(slow.Select(async c =>
            {
                try
                {
                    return await c.ReadReplyAsync().WaitAsync(TimeSpan.FromMilliseconds(500));
                }
                catch (TimeoutException)
                {
                    return null;
                }
            }));
            Assert.Contains(replies, r => r is not null && r.StartsWith("421 4.4.2", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var client in slow)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task FullServer_WhereEveryClientMakesProgress_RefusesTheNewcomer()
    {
        await using var server = await TestServer.StartAsync(adjust: o => o with
        {
            Smtp = o.Smtp with { MaxConnections = 2, ReclaimIdleAfter = TimeSpan.FromSeconds(30) },
        });
        await using var first = await GreetedAsync(server);
        await using var second = await GreetedAsync(server);
        await using var third = await RawSmtpClient.ConnectAsync(server.Smtp);
        Assert.StartsWith("421 4.7.0", await third.ExpectAsync(421));
    }
}
