using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Inlet.IntegrationTests;

/// <summary>The dry run's limits: streamed to a file, header section capped, a few at a time.</summary>
/// <remarks>Alone, because the memory bound is read from the whole process's heap, which parallel tests would fill.</remarks>
[Collection(MeasuresTheProcess.Name)]
public sealed class RuleTestLimitsTests
{
    [Fact]
    public async Task BodyWithoutLineBreaks_AnswersQuicklyWithinBoundedMemory()
    {
        await using var server = await TestServer.StartAsync();
        var body = new byte[16 * 1024 * 1024];
        Array.Fill(body, (byte)'a');
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var clock = Stopwatch.StartNew();
        using var response = await server.Http.PostAsync("/api/rules/test?to=x@example.com", new ByteArrayContent(body));
        clock.Stop();
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("HeaderTooLarge", await response.Content.ReadAsStringAsync());
        // It took 14.7 s of CPU when the whole body was parsed as one header; generous bounds, not a benchmark, that a
        // loaded machine meets as well.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), clock.Elapsed.ToString());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(server.Directory, "spool"), "#*"));
        Assert.True(GC.GetTotalMemory(forceFullCollection: true) - before < 64L * 1024 * 1024);
    }

    [Fact]
    public async Task MessageWhoseFirstLineIsNotAHeader_IsPlannedNotA500()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await server.Http.PostAsync("/api/rules/test?to=x@example.com", new StringContent("hello world\r\n\r\nbody\r\n"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task ReceivedMessageWhoseFirstLineIsNotAHeader_IsProcessed()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await RawSmtpClient.ConnectAsync(server.Smtp);
        await client.ExpectAsync(220);
        await client.SendAsync("EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n");
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(354);
        await client.SendAsync("hello world\r\n\r\nbody\r\n.\r\n");
        var id = (await client.ExpectAsync(250)).Split(' ')[^1];
        await server.WaitForMessageAsync(id);
    }

    [Fact]
    public async Task FifthConcurrentDryRun_Is429()
    {
        await using var server = await TestServer.StartAsync();
        var slow = new List<TcpClient>();
        try
        {
            // Each slow request sends its headers and 256 KB of its 1 MB body at once, then nothing more until the
            // test closes it. Kestrel's minimum body rate (240 octets a second, averaged over the body so far) stays
            // met for over 15 minutes that way, with no writer thread for a loaded machine to hold back.
            var head = $"POST /api/rules/test?to=x@example.com HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\nSubject: slow\r\n\r\n";
            var start = Encoding.ASCII.GetBytes(head + string.Concat(Enumerable.Repeat(new string('x', 126) + "\r\n", 2048)));
            for (var i = 0; i < 4; i++)
            {
                var tcp = new TcpClient();
                slow.Add(tcp);
                await tcp.ConnectAsync(server.Server.HttpEndPoint);
                await tcp.GetStream().WriteAsync(start);
            }

            // Each dry run streams its message to a '#dry-run-' file of the spool from the moment it holds a slot:
            // once there are four, every slot is taken.
            var spool = Path.Combine(server.Directory, "spool");
            var clock = Stopwatch.StartNew();
            while (DryRunFiles(spool) < 4 && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(20);
            }

            Assert.True(DryRunFiles(spool) == 4, $"{DryRunFiles(spool)} slow dry runs started within 30 s; the slow requests: {string.Join("; ", slow.Select(Describe))}");
            using var fifth = await server.Http.PostAsync("/api/rules/test?to=x@example.com", new StringContent("Subject: t\r\n\r\nx\r\n"));
            var status = fifth.StatusCode;
            Assert.True(status == HttpStatusCode.TooManyRequests, $"the fifth dry run was answered {status}; the slow requests: {string.Join("; ", slow.Select(Describe))}");
        }
        finally
        {
            foreach (var tcp in slow)
            {
                tcp.Dispose();
            }
        }

        // The slots come back once those requests end.
        HttpStatusCode after = default;
        for (var attempt = 0; attempt < 50 && after != HttpStatusCode.OK; attempt++)
        {
            await Task.Delay(100);
            using var response = await server.Http.PostAsync("/api/rules/test?to=x@example.com", new StringContent("Subject: t\r\n\r\nx\r\n"));
            after = response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, after);
    }

    private static int DryRunFiles(string spool) =>
        Directory.Exists(spool) ? Directory.EnumerateFiles(spool, "#dry-run-*", SearchOption.AllDirectories).Count() : 0;

    /// <summary>What the server did with a slow request: nothing yet, closed it, or answered it.</summary>
    private static string Describe(TcpClient tcp)
    {
        var socket = tcp.Client;
        if (!socket.Poll(0, SelectMode.SelectRead))
        {
            return "still open, unanswered";
        }

        if (socket.Available == 0)
        {
            return "closed by the server without an answer";
        }

        var buffer = new byte[Math.Min(socket.Available, 2048)];
        var read = socket.Receive(buffer);
        return "answered: " + Encoding.ASCII.GetString(buffer, 0, read).ReplaceLineEndings(" | ");
    }
}
