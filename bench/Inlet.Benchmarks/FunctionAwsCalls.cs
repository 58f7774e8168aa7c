using System.Globalization;
using System.Text;
using System.Text.Json;
using Inlet.Api;
using Inlet.Hosting;
using Microsoft.Extensions.Logging;

namespace Inlet.Benchmarks;

/// <summary>
/// What a function's AWS calls cost, measured from inside a real Node function with the SDK v3 the runtime
/// provides, against a whole Inlet server: S3 GetObject of a 100 KB stored message, and SES SendRawEmail of it to the
/// outbox (fsynced before the answer). Each call is timed by the function itself; the first (connection, SDK warm-up)
/// is left out. Not a BenchmarkDotNet benchmark because a child process and the whole server are what is measured.
/// </summary>
internal static class FunctionAwsCalls
{
    private const string Handler = """
        const { S3Client, GetObjectCommand } = require('@aws-sdk/client-s3');
        const { SESClient, SendRawEmailCommand } = require('@aws-sdk/client-ses');
        const s3 = new S3Client({});
        const ses = new SESClient({});
        const time = async (fn) => { const t = process.hrtime.bigint(); await fn(); return Number(process.hrtime.bigint() - t) / 1e6; };
        exports.handler = async (event) => {
          const get = [], send = [];
          let raw;
          for (let i = 0; i <= event.count; i++) {
            const ms = await time(async () => { raw = await (await s3.send(new GetObjectCommand({ Bucket: 'mail', Key: 'message.eml' }))).Body.transformToByteArray(); });
            if (i > 0) get.push(ms);
          }
          for (let i = 0; i <= event.count; i++) {
            const ms = await time(() => ses.send(new SendRawEmailCommand({ RawMessage: { Data: raw } })));
            if (i > 0) send.push(ms);
          }
          return { get, send, bytes: raw.length };
        };
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
        var folder = Directory.CreateTempSubdirectory("inlet-bench-aws").FullName;
        var code = Path.Combine(folder, "caller");
        Directory.CreateDirectory(code);
        await File.WriteAllTextAsync(Path.Combine(code, "index.js"), Handler);
        var options = ConfigurationLoader.Load($$"""
            Functions:
              - FunctionName: caller
                Runtime: nodejs20.x
                Handler: index.handler
                Code: {{code}}
                Timeout: 600
                MemorySize: 512
            Buckets: [mail]
            Identities: [example.com]
            """) with { DataDirectory = Path.Combine(folder, "data") };
        options = options with { Smtp = options.Smtp with { Listen = "127.0.0.1:0" }, Http = options.Http with { Listen = "127.0.0.1:0", HttpsListen = "off" } };
        await using var server = await InletServer.StartAsync(options, logging => logging.ClearProviders());
        using var http = new HttpClient(new SigningHandler("inlet", "inlet-secret", "us-east-1")) { BaseAddress = new Uri($"http://{server.HttpEndPoint}") };

        var body = new StringBuilder("From: Sender <a@example.com>\r\nTo: b@elsewhere.test\r\nSubject: 100 KB\r\n\r\n");
        while (body.Length < 100 * 1024)
        {
            body.Append("The quick brown fox jumps over the lazy dog, again and again, to fill a line.\r\n");
        }

        using (var s3 = new HttpClient(new SigningHandler("inlet", "inlet-secret", "us-east-1", "s3")) { BaseAddress = http.BaseAddress })
        using (var put = await s3.PutAsync("/mail/message.eml", new ByteArrayContent(Encoding.ASCII.GetBytes(body.ToString()))))
        {
            put.EnsureSuccessStatusCode();
        }

        using var response = await http.PostAsync("/2015-03-31/functions/caller/invocations", new StringContent($$"""{"count":{{count}}}"""));
        var result = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        if (!result.TryGetProperty("get", out var get))
        {
            await Console.Error.WriteLineAsync(result.ToString());
            return 1;
        }

        Console.WriteLine($"{count} calls each, from a Node {NodeVersion()} function with the runtime's SDK v3, message of {result.GetProperty("bytes").GetInt32()} bytes");
        Print("S3 GetObject (100 KB)", get);
        Print("SES SendRawEmail to the outbox", result.GetProperty("send"));
        return 0;
    }

    private static void Print(string what, JsonElement samples)
    {
        var sorted = samples.EnumerateArray().Select(s => s.GetDouble()).Order().ToArray();
        double P(double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what,-32} p50 {P(0.5):F2} ms   p90 {P(0.9):F2} ms   p99 {P(0.99):F2} ms   max {sorted[^1]:F2} ms"));
    }

    private static string NodeVersion()
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("node", "--version") { RedirectStandardOutput = true })!;
        return process.StandardOutput.ReadToEnd().Trim();
    }
}
