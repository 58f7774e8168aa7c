using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MimeKit;

namespace Inlet.IntegrationTests;

/// <summary>An acknowledged message is never lost, not even on kill -9; a half-received one never appears.</summary>
public class DurabilityTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>
    /// The rule set "main" of one rule for every recipient at example.com, with no action or running one (then active);
    /// it begins on a line of its own, to follow other settings.
    /// </summary>
    private static string OneRule(string? action = null) => $"""

        ReceiptRuleSets:
          - RuleSetName: main
            Rules:
              - Name: all
                Enabled: true
                Recipients: [example.com]
        """ + (action is null ? "" : $"""

                Actions:
                  - {action}
        ActiveReceiptRuleSet: main
        """);

    private static string WriteConfig(string directory)
    {
        var path = Path.Combine(directory, "inlet.yaml");
        File.WriteAllText(path, OneRule());
        return path;
    }

    private static MimeMessage NewMessage(string subject, int bodyLines)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("sender@example.net"));
        message.To.Add(MailboxAddress.Parse("user@example.com"));
        message.Subject = subject;
        var body = new StringBuilder();
        for (var i = 0; i < bodyLines; i++)
        {
            body.Append("line ").Append(i).Append(" of the body, long enough to make the message take a while\n");
        }

        body.Append("END-OF-BODY\n");
        message.Body = new TextPart("plain") { Text = body.ToString() };
        return message;
    }

    private static async Task<List<JsonElement>> ListAllAsync(HttpClient http)
    {
        var all = new List<JsonElement>();
        string? token = null;
        do
        {
            var page = await http.GetFromJsonAsync<JsonElement>($"/api/messages?limit=1000{(token is null ? "" : "&nextToken=" + token)}");
            all.AddRange(page.GetProperty("messages").EnumerateArray());
            token = page.TryGetProperty("nextToken", out var next) ? next.GetString() : null;
        }
        while (token is not null);
        return all;
    }

    [Fact]
    public async Task Kill9_DuringAStreamOfMessages_LosesNoAcknowledgedMessage()
    {
        var directory = TestServer.NewDirectory();
        var config = WriteConfig(directory);
        var acknowledged = new ConcurrentBag<string>();
        await using (var inlet = await InletProcess.StartAsync(directory, config))
        {
            // A message whose data is half sent when the process dies must not appear after the restart.
            await using var half = await RawSmtpClient.ConnectAsync(inlet.Smtp);
            await half.ExpectAsync(220);
            await half.SendAsync("EHLO half.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n");
            await half.ExpectAsync(250);
            await half.ExpectAsync(250);
            await half.ExpectAsync(250);
            await half.ExpectAsync(354);
            await half.SendAsync("Subject: HALF-RECEIVED\r\n\r\nthe first half, and then the process dies\r\n");

            using var stop = new CancellationTokenSource();
            var senders = Enumerable.Range(0, 4).Select(n => Task.Run(async () =>
            {
                var i = 0;
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        using var client = new SmtpClient();
                        await client.ConnectAsync(inlet.Smtp.Address.ToString(), inlet.Smtp.Port, SecureSocketOptions.None);
                        while (!stop.IsCancellationRequested)
                        {
                            var reply = await client.SendAsync(NewMessage($"s{n}-{i++}", bodyLines: i % 7 == 0 ? 3000 : 20));
                            acknowledged.Add(reply.Split(' ').Last());
                        }
                    }
                    catch (Exception e) when (e is IOException or SmtpProtocolException or SmtpCommandException or System.Net.Sockets.SocketException or OperationCanceledException)
                    {
                        return;
                    }
                }
            })).ToArray();

            await Task.Delay(1500);
            await inlet.KillAsync();
            stop.Cancel();
            await Task.WhenAll(senders);
        }

        Assert.True(acknowledged.Count > 10, $"only {acknowledged.Count} messages were acknowledged before the kill");

        await using (var restarted = await InletProcess.StartAsync(directory, config))
        {
            // Everything acknowledged is listed, and is processed once the restarted server picks it up again.
            List<JsonElement> listed = [];
            for (var attempt = 0; attempt < 100; attempt++)
            {
                listed = await ListAllAsync(restarted.Http);
                if (listed.All(m => m.GetProperty("status").GetString() == "processed"))
                {
                    break;
                }

                await Task.Delay(100);
            }

            var ids = listed.Select(m => m.GetProperty("messageId").GetString()!).ToHashSet();
            Assert.All(acknowledged, id => Assert.Contains(id, ids));
            Assert.All(listed, m => Assert.Equal("processed", m.GetProperty("status").GetString()));
            Assert.DoesNotContain(listed, m => m.TryGetProperty("subject", out var subject) && subject.GetString() == "HALF-RECEIVED");

            // Every stored message is whole: its body ends where the sender ended it.
            foreach (var id in ids)
            {
                var raw = await restarted.Http.GetStringAsync($"/api/messages/{id}/raw");
                Assert.Contains("END-OF-BODY", raw);
            }

            var leftovers = Directory.GetFiles(Path.Combine(directory, "spool"), "#*", SearchOption.AllDirectories);
            Assert.Empty(leftovers);
        }

        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task Kill9_DuringAnInlineRun_LeavesNoRecordAndTheMessageIsAcceptedWhenSentAgain()
    {
        // Inline, a message is recorded only when its run ends: killed while its function runs, the server has
        // answered nothing and keeps nothing of it (not even spool data), and the client's retry is a new message.
        var directory = TestServer.NewDirectory();
        var started = Path.Combine(FunctionFixtures.OutputFolder(directory), "started");
        var folder = FunctionFixtures.Write(directory, "fn", "index.js", """
            const fs = require('fs');
            exports.handler = async (event) => {
              if (event.Records[0].ses.mail.commonHeaders.subject === 'hang') {
                fs.writeFileSync(process.env.STARTED, 'x');
                await new Promise(r => setTimeout(r, 60000));
              }
              return { disposition: 'CONTINUE' };
            };
            """);
        var config = Path.Combine(directory, "inlet.yaml");
        File.WriteAllText(config, $$"""
            Smtp: { Mode: inline }
            Functions:
              - FunctionName: fn
                Runtime: nodejs20.x
                Handler: index.handler
                Code: {{folder}}
                Timeout: 120
                Environment: { Variables: { STARTED: {{started}} } }
            """ + OneRule("LambdaAction: { FunctionArn: fn, InvocationType: RequestResponse }"));
        await using (var inlet = await InletProcess.StartAsync(directory, config))
        {
            using var client = new SmtpClient();
            await client.ConnectAsync(inlet.Smtp.Address.ToString(), inlet.Smtp.Port, SecureSocketOptions.None);
            // Past the 128 KB kept in memory: its data is in a spool file while the function runs.
            var sending = client.SendAsync(NewMessage("hang", bodyLines: 3000));
            for (var waited = 0; !File.Exists(started); waited += 50)
            {
                Assert.True(waited < 30_000, "the function never started");
                Assert.False(sending.IsCompleted, "the message was answered before its function ran");
                await Task.Delay(50);
            }

            await inlet.KillAsync();
            await Assert.ThrowsAnyAsync<Exception>(() => sending);
        }

        await using (var restarted = await InletProcess.StartAsync(directory, config))
        {
            Assert.Empty(await ListAllAsync(restarted.Http));
            var spool = Path.Combine(directory, "spool");
            Assert.Empty(Directory.Exists(spool) ? Directory.EnumerateFiles(spool, "*", SearchOption.AllDirectories) : []);

            using var client = new SmtpClient();
            await client.ConnectAsync(restarted.Smtp.Address.ToString(), restarted.Smtp.Port, SecureSocketOptions.None);
            var id = (await client.SendAsync(NewMessage("again", bodyLines: 20))).Split(' ').Last();
            var message = Assert.Single(await ListAllAsync(restarted.Http));
            Assert.Equal(id, message.GetProperty("messageId").GetString());
            Assert.Equal("processed", message.GetProperty("status").GetString());
        }

        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task Kill9_BeforeTheBucketJournalIsFlushed_LosesNoS3ObjectOfAnAcknowledgedMessage()
    {
        // Inline, so that a 250 means the S3 action has run. The flush never comes before the kill: every object's
        // content is in the journal alone, and a file lost from the page cache is played by deleting or cutting it.
        var directory = TestServer.NewDirectory();
        var config = Path.Combine(directory, "inlet.yaml");
        File.WriteAllText(config, """
            Smtp: { Mode: inline }
            State: { BucketFlushSeconds: 3600 }
            """ + OneRule("S3Action: { BucketName: mail }"));
        var acknowledged = new List<string>();
        string deleted;
        await using (var inlet = await InletProcess.StartAsync(directory, config))
        {
            using var client = new SmtpClient();
            await client.ConnectAsync(inlet.Smtp.Address.ToString(), inlet.Smtp.Port, SecureSocketOptions.None);
            acknowledged.Add((await client.SendAsync(NewMessage("journaled-0", bodyLines: 20))).Split(' ').Last());

            // A delete through the S3 API (which flushes the journal first) is not undone by a later replay.
            deleted = acknowledged[0];
            var delete = await AwsCli.RunAsync(inlet.Http.BaseAddress!.ToString().TrimEnd('/'), "inlet", "inlet-secret", "s3api", "delete-object", "--bucket", "mail", "--key", deleted);
            Assert.True(delete.ExitCode == 0, delete.Error);

            for (var i = 1; i < 20; i++)
            {
                acknowledged.Add((await client.SendAsync(NewMessage($"journaled-{i}", bodyLines: 20))).Split(' ').Last());
            }

            await inlet.KillAsync();
        }

        var bucket = Path.Combine(directory, "buckets", "mail");
        for (var i = 1; i < acknowledged.Count; i++)
        {
            var path = Path.Combine(bucket, acknowledged[i]);
            if (i % 2 == 0)
            {
                File.Delete(path);
            }
            else
            {
                File.WriteAllBytes(path, []);
            }
        }

        await using (var restarted = await InletProcess.StartAsync(directory, config))
        {
            Assert.False(File.Exists(Path.Combine(bucket, deleted)), "the object deleted through the S3 API came back");
            foreach (var id in acknowledged.Skip(1))
            {
                var content = await File.ReadAllTextAsync(Path.Combine(bucket, id));
                Assert.Contains("Subject: journaled-", content);
                Assert.Contains("END-OF-BODY", content);
            }

            Assert.Contains("from the journal", restarted.Output);
        }

        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task Sigterm_AnswersOpenSessions421AndExitsZero()
    {
        var directory = TestServer.NewDirectory();
        await using var inlet = await InletProcess.StartAsync(directory, WriteConfig(directory));
        await using var client = await RawSmtpClient.ConnectAsync(inlet.Smtp);
        await client.ExpectAsync(220);
        await client.SendAsync("EHLO waiting.test\r\n");
        await client.ExpectAsync(250);

        var exit = inlet.TerminateAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("4.3.2", await client.ExpectAsync(421));
        Assert.Equal(0, await exit);
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task Stopping_HealthSaysSo_WhileSmtpAnswers421()
    {
        // While the node stops (its hosted services get up to 30 s), a load balancer must stop sending it mail.
        await using var server = await TestServer.StartAsync();
        var health = server.Server.Services.GetRequiredService<Inlet.Management.NodeHealth>();
        Assert.True((await health.CheckAsync(CancellationToken.None)).Healthy);

        server.Server.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        var report = await health.CheckAsync(CancellationToken.None);
        Assert.False(report.Healthy);
        Assert.Equal("the node is stopping", report.Problem);
    }

    [Fact]
    public async Task LargeMessage_40MB_IsStreamedWithoutGrowingMemory()
    {
        var directory = TestServer.NewDirectory();
        await using var inlet = await InletProcess.StartAsync(directory, WriteConfig(directory));

        // Warm up the whole path once, so the measurement sees steady state, not JIT and first-use allocations.
        using (var warm = new SmtpClient())
        {
            await warm.ConnectAsync(inlet.Smtp.Address.ToString(), inlet.Smtp.Port, SecureSocketOptions.None);
            await warm.SendAsync(NewMessage("warm-up", 5000));
        }

        await Task.Delay(500);
        var baseline = inlet.ResidentBytes();
        long peak = baseline;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, inlet.ResidentBytes());
                await Task.Delay(20);
            }
        });

        await using var client = await RawSmtpClient.ConnectAsync(inlet.Smtp);
        await client.ExpectAsync(220);
        await client.SendAsync("EHLO big.test\r\nMAIL FROM:<a@b.test> SIZE=41900000\r\nRCPT TO:<x@example.com>\r\nDATA\r\n");
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.ExpectAsync(354);
        var line = Encoding.ASCII.GetBytes(new string('x', 98) + "\r\n");
        var chunk = new byte[line.Length * 640];
        for (var i = 0; i < 640; i++)
        {
            line.CopyTo(chunk, i * line.Length);
        }

        await client.SendAsync("Subject: forty megabytes\r\n\r\n");
        long sent = 0;
        while (sent + chunk.Length < 41_800_000)
        {
            await client.SendAsync(chunk);
            sent += chunk.Length;
        }

        await client.SendAsync(".\r\n");
        var id = (await client.ExpectAsync(250)).Split(' ').Last();
        sampling.Cancel();
        await sampler;

        var growth = peak - baseline;
        output.WriteLine($"baseline {baseline / 1024 / 1024} MB, peak {peak / 1024 / 1024} MB, growth {growth / 1024.0 / 1024:F1} MB for {sent / 1024 / 1024} MB received");
        Assert.True(growth < 16 * 1024 * 1024, $"resident memory grew by {growth / 1024 / 1024} MB while receiving {sent / 1024 / 1024} MB");
        var record = await inlet.Http.GetFromJsonAsync<JsonElement>($"/api/messages/{id}");
        Assert.True(record.GetProperty("message").GetProperty("size").GetInt64() > 41_000_000);
        await inlet.DisposeAsync();
        Directory.Delete(directory, recursive: true);
    }
}
