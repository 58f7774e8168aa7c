using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Inlet.Hosting;
using Inlet.Notifications;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Inlet.Benchmarks;

/// <summary>
/// Notifications delivered per second to a local HTTP subscriber: a real server, a topic with one confirmed http
/// subscription, N publishes of a 2 KB SES-like notification, timed until the subscriber has received them all.
/// Each publish is durable (a delivery record) and each delivery is signed, POSTed and recorded as delivered.
/// </summary>
internal static class SnsDelivery
{
    public static async Task<int> RunAsync(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2000;
        var received = 0;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var subscriber = builder.Build();
        var confirmUrl = new TaskCompletionSource<string>();
        subscriber.MapPost("/hook", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            var body = await reader.ReadToEndAsync();
            if (request.Headers["x-amz-sns-message-type"] == "SubscriptionConfirmation")
            {
                confirmUrl.TrySetResult(JsonDocument.Parse(body).RootElement.GetProperty("SubscribeURL").GetString()!);
            }
            else
            {
                Interlocked.Increment(ref received);
            }

            return Results.Ok();
        });
        await subscriber.StartAsync();

        var directory = Directory.CreateTempSubdirectory("inlet-bench-sns").FullName;
        var options = ConfigurationLoader.Load($$"""
            Topics:
              - Name: bench
                Subscriptions:
                  - Protocol: http
                    Endpoint: {{subscriber.Urls.Single()}}/hook
            """) with { DataDirectory = directory };
        options = options with
        {
            Smtp = options.Smtp with { Listen = "127.0.0.1:0" },
            Http = options.Http with { Listen = "127.0.0.1:0", HttpsListen = "127.0.0.1:0" },
        };
        await using var server = await InletServer.StartAsync(options, logging => logging.SetMinimumLevel(LogLevel.Warning));
        using (var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true })
        using (var http = new HttpClient(handler))
        {
            await http.GetStringAsync(await confirmUrl.Task);
        }

        var sns = server.Services.GetRequiredService<SnsService>();
        var arn = sns.TopicArn("bench");
        var message = JsonSerializer.Serialize(new { notificationType = "Received", padding = new string('x', 2000) });
        for (var i = 0; i < 50; i++)
        {
            await sns.PublishAsync(arn, message, SnsService.ReceiptSubject, CancellationToken.None);
        }

        while (Volatile.Read(ref received) < 50)
        {
            await Task.Delay(10);
        }

        var started = Stopwatch.GetTimestamp();
        var publishing = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < count / 8; i++)
            {
                await sns.PublishAsync(arn, message, SnsService.ReceiptSubject, CancellationToken.None);
            }
        }));
        await Task.WhenAll(publishing);
        var published = Stopwatch.GetElapsedTime(started);
        var target = 50 + (count / 8 * 8);
        while (Volatile.Read(ref received) < target)
        {
            await Task.Delay(5);
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{count / 8 * 8} notifications published in {published.TotalSeconds:F2} s and delivered in {elapsed.TotalSeconds:F2} s: {(count / 8 * 8) / elapsed.TotalSeconds:F0} deliveries/s"));
        Directory.Delete(directory, recursive: true);
        return 0;
    }
}
