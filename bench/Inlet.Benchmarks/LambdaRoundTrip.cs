using System.Diagnostics;
using System.Globalization;
using Inlet.Functions;
using Inlet.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace Inlet.Benchmarks;

/// <summary>
/// Measures the Lambda path with a real Node.js environment and an empty handler: Inlet's own part of a warm
/// RequestResponse round trip (handing the event to the runtime, taking the answer back), the whole warm round
/// trip, and cold starts (process start to the runtime's first /next, and the first invocation in all).
/// Not a BenchmarkDotNet benchmark because a child process is part of what is measured.
/// </summary>
internal static class LambdaRoundTrip
{
    private static readonly FunctionHost Host = new(new FunctionCredentials(TimeProvider.System), "000000000000", FunctionSandbox.None);

    public static async Task<int> RunAsync(string[] args)
    {
        var invocations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5000;
        var colds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20;
        var folder = Directory.CreateTempSubdirectory("inlet-bench-fn").FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "index.js"), "exports.handler = async () => ({ disposition: 'CONTINUE' });\n");
        var logs = new FunctionLogs(Path.Combine(folder, "logs"));
        var registry = new FunctionRegistry("us-east-1", "000000000000");
        var function = new FunctionDefinition
        {
            FunctionName = "empty",
            FunctionArn = FunctionDefinition.ArnFor("us-east-1", "000000000000", "empty"),
            Runtime = "nodejs20.x",
            Handler = "index.handler",
            CodePath = folder,
            Timeout = 30,
        };
        registry.Put(function);
        var payload = SampleEvent();

        await using (var invoker = new FunctionInvoker(registry, new FunctionsOptions { DefaultConcurrency = 1 }, Host, logs, NullLoggerFactory.Instance))
        {
            for (var i = 0; i < 200; i++)
            {
                await invoker.InvokeAsync(function, payload, new InvokeOptions(), CancellationToken.None);
            }

            var overhead = new double[invocations];
            var total = new double[invocations];
            for (var i = 0; i < invocations; i++)
            {
                var started = Stopwatch.GetTimestamp();
                var result = await invoker.InvokeAsync(function, payload, new InvokeOptions(), CancellationToken.None);
                total[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
                overhead[i] = result.Overhead.TotalMicroseconds;
                if (result.FunctionError is not null)
                {
                    Console.Error.WriteLine($"invocation failed: {result.ErrorType} {result.ErrorMessage}");
                    return 1;
                }
            }

            Console.WriteLine($"warm RequestResponse, {invocations} invocations of an empty Node handler with a {payload.Length}-byte SES event:");
            Report("  Inlet's part (µs)", overhead);
            Report("  whole round trip (µs)", total);
        }

        var init = new double[colds];
        var first = new double[colds];
        for (var i = 0; i < colds; i++)
        {
            await using var invoker = new FunctionInvoker(registry, new FunctionsOptions(), Host, logs, NullLoggerFactory.Instance);
            var started = Stopwatch.GetTimestamp();
            var result = await invoker.InvokeAsync(function, payload, new InvokeOptions(), CancellationToken.None);
            first[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            init[i] = result.InitDuration?.TotalMilliseconds ?? 0;
        }

        Console.WriteLine($"cold start, {colds} fresh environments:");
        Report("  init: process start to first /next (ms)", init);
        Report("  first invocation, all in (ms)", first);
        Directory.Delete(folder, recursive: true);
        return 0;
    }

    /// <summary>The event the Lambda action sends for a typical message.</summary>
    private static byte[] SampleEvent()
    {
        var headers = System.Text.Encoding.ASCII.GetBytes(
            "Return-Path: <sender@example.net>\r\nReceived: from mail.example.net (unknown [192.0.2.10])\r\n by inlet.localhost with SMTP id 06h0vcemgo6co8dm1uchpqv86ubma9qhb2urh44m\r\n for user@example.com;\r\n Tue, 24 Nov 2026 22:00:00 +0000 (UTC)\r\n" +
            "From: Sender <sender@example.net>\r\nTo: user@example.com\r\nSubject: Benchmark\r\nDate: Tue, 24 Nov 2026 22:00:00 +0000\r\nMessage-ID: <bench@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n");
        var received = DateTimeOffset.UtcNow;
        var mail = Inlet.Mail.SesMailBuilder.Build(headers, "06h0vcemgo6co8dm1uchpqv86ubma9qhb2urh44m", "sender@example.net", received);
        var receipt = new Inlet.Mail.SesReceipt
        {
            Timestamp = mail.Timestamp,
            ProcessingTimeMillis = 12,
            Recipients = ["user@example.com"],
            SpamVerdict = Inlet.Mail.SesVerdict.Disabled,
            VirusVerdict = Inlet.Mail.SesVerdict.Disabled,
            SpfVerdict = Inlet.Mail.SesVerdict.ProcessingFailed,
            DkimVerdict = Inlet.Mail.SesVerdict.Gray,
            DmarcVerdict = Inlet.Mail.SesVerdict.ProcessingFailed,
            Action = new Inlet.Mail.SesReceiptAction { Type = "Lambda", FunctionArn = "arn:aws:lambda:us-east-1:000000000000:function:empty", InvocationType = "RequestResponse" },
        };
        var record = new Inlet.Mail.SesEventRecord { Ses = new Inlet.Mail.SesContent(mail, receipt) };
        return System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new Inlet.Mail.SesEvent([record]), Inlet.Mail.SesJsonContext.Default.SesEvent);
    }

    private static void Report(string name, double[] values)
    {
        Array.Sort(values);
        double At(double q) => values[Math.Min(values.Length - 1, (int)Math.Ceiling(q * values.Length) - 1)];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: p50 {At(0.50):F1}  p90 {At(0.90):F1}  p99 {At(0.99):F1}  max {values[^1]:F1}"));
    }
}
