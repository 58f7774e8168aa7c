using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Inlet.Hosting;
using Microsoft.Extensions.Logging;

namespace Inlet.IntegrationTests;

/// <summary>A real Inlet server in this process, on port 0, with its own data folder.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private static readonly Lazy<LoopbackDnsServer> s_emptyDns = new(() => new LoopbackDnsServer());

    private readonly bool _ownsDirectory;

    private TestServer(InletServer server, string directory, bool ownsDirectory)
    {
        _ownsDirectory = ownsDirectory;
        Server = server;
        Directory = directory;
        Http = new HttpClient(new Inlet.Api.SigningHandler("inlet", "inlet-secret", "us-east-1")) { BaseAddress = new Uri($"http://{server.HttpEndPoint}") };
    }

    public InletServer Server { get; }

    public string Directory { get; }

    public HttpClient Http { get; }

    public IPEndPoint Smtp => Server.SmtpEndPoint;

    public int SmtpPort => Server.SmtpEndPoint.Port;

    public const string DefaultRules = """
        ReceiptRuleSets:
          - RuleSetName: main
            Rules:
              - Name: example
                Enabled: true
                Recipients: [example.com]
              - Name: secure
                Enabled: true
                TlsPolicy: Require
                Recipients: [secure.example.org]
        ActiveReceiptRuleSet: main
        """;

    public static async Task<TestServer> StartAsync(string yaml = DefaultRules, Func<InletOptions, InletOptions>? adjust = null, string? directory = null)
    {
        var owns = directory is null;
        directory ??= NewDirectory();
        var options = ConfigurationLoader.Load(yaml) with { DataDirectory = directory };
        options = options with
        {
            Smtp = options.Smtp with { Listen = "127.0.0.1:0" },
            Http = options.Http with { Listen = "127.0.0.1:0", HttpsListen = "127.0.0.1:0" },
        };
        if (options.Authentication.DnsServers.IsEmpty)
        {
            // Hermetic verdicts: unless a test brings its own zone, DNS is a loopback server that knows no names.
            options = options with { Authentication = options.Authentication with { DnsServers = [s_emptyDns.Value.EndPoint] } };
        }

        if (adjust is not null)
        {
            options = adjust(options);
        }

        var server = await InletServer.StartAsync(options, logging => logging.SetMinimumLevel(LogLevel.Warning));
        return new TestServer(server, directory, owns);
    }

    public static string NewDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "inlet-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(path);
        return path;
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>The whole record of a message: <c>message</c>, <c>mail</c> and <c>trace</c>.</summary>
    public Task<JsonElement> GetDetailAsync(string id) => GetJsonAsync($"/api/messages/{id}");

    /// <summary>Polls the message list until the message reaches the status, or fails after a few seconds.</summary>
    public async Task<JsonElement> WaitForMessageAsync(string id, string status = "processed")
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var response = await Http.GetAsync($"/api/messages/{id}");
            if (response.IsSuccessStatusCode)
            {
                var detail = await response.Content.ReadFromJsonAsync<JsonElement>();
                var message = detail.GetProperty("message");
                if (message.GetProperty("status").GetString() == status)
                {
                    return message;
                }
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"message {id} did not reach status {status}");
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        if (!_ownsDirectory)
        {
            return;
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open by a closing connection; the temp folder is cleaned by the OS eventually.
        }
    }
}
