using System.Diagnostics;
using System.Globalization;
using Inlet.Hosting;
using Inlet.Storage;
using MailKit.Net.Smtp;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace Inlet.Benchmarks;

/// <summary>
/// How fast messages are processed when a rule runs a slow synchronous function: N messages (async mode) through a
/// rule whose RequestResponse function takes 200 ms, with the function's concurrency C. Processing is bounded by the
/// function's concurrency, not by a fixed pool, so the rate should approach C / 0.2 s. Times from the first message
/// accepted to the last one processed.
/// </summary>
internal static class ProcessingConcurrency
{
    public static async Task<int> RunAsync(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 300;
        var concurrency = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10;
        var folder = Directory.CreateTempSubdirectory("inlet-bench-concurrency").FullName;
        var code = Path.Combine(folder, "slow");
        Directory.CreateDirectory(code);
        await File.WriteAllTextAsync(Path.Combine(code, "index.js"), "exports.handler = async () => { await new Promise(r => setTimeout(r, 200)); return { disposition: 'CONTINUE' }; };\n");
        var options = ConfigurationLoader.Load($$"""
            Functions:
              - FunctionName: slow
                Runtime: nodejs20.x
                Handler: index.handler
                Code: {{code}}
                ReservedConcurrentExecutions: {{concurrency}}
            Authentication:
              DnsServers: [127.0.0.1:9]
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: slow
                    Enabled: true
                    Recipients: [example.com]
                    Actions:
                      - LambdaAction: { FunctionArn: slow, InvocationType: RequestResponse }
            """) with { DataDirectory = Path.Combine(folder, "data") };
        options = options with
        {
            Smtp = options.Smtp with { Listen = "127.0.0.1:0" },
            Http = options.Http with { Listen = "127.0.0.1:0", HttpsListen = "off" },
            // No DNS answers here: verdicts would wait on timeouts, which is not what is measured.
            Authentication = options.Authentication with { Budget = TimeSpan.FromMilliseconds(1) },
        };
        await using var server = await InletServer.StartAsync(options, logging => logging.SetMinimumLevel(LogLevel.Warning));
        var state = server.Services.GetRequiredService<IStateStore>();

        var started = Stopwatch.GetTimestamp();
        var senders = Enumerable.Range(0, 10).Select(async s =>
        {
            using var client = new SmtpClient();
            await client.ConnectAsync("127.0.0.1", server.SmtpEndPoint.Port, MailKit.Security.SecureSocketOptions.None);
            for (var i = s; i < count; i += 10)
            {
                var message = new MimeMessage();
                message.From.Add(MailboxAddress.Parse("load@sender.test"));
                message.To.Add(MailboxAddress.Parse("user@example.com"));
                message.Subject = $"message {i}";
                message.Body = new TextPart("plain") { Text = "x" };
                await client.SendAsync(message);
            }

            await client.DisconnectAsync(true);
        });
        await Task.WhenAll(senders);
        var accepted = Stopwatch.GetElapsedTime(started);

        while (true)
        {
            var page = await state.ListMessagesAsync(count, null, CancellationToken.None);
            if (page.Messages.Count >= count && page.Messages.All(m => m.Status == "processed"))
            {
                break;
            }

            await Task.Delay(500);
        }

        var processed = Stopwatch.GetElapsedTime(started);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{count} messages, a 200 ms RequestResponse function with concurrency {concurrency}, Processing.Workers {options.Processing.Workers}: all accepted in {accepted.TotalSeconds:F1} s, all processed in {processed.TotalSeconds:F1} s = {count / processed.TotalSeconds:F1} messages/s processed (ceiling {concurrency / 0.2:F0})"));
        return 0;
    }
}
