using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Inlet.IntegrationTests;

/// <summary>
/// Real spamd and clamd on loopback ports, started for the tests in a temporary folder and stopped when they are done.
/// clamd gets a configuration of its own whose only signature is a one-line <c>test.hdb</c> for the EICAR test file
/// (no freshclam, no internet); spamd runs local tests only (<c>-L</c>). A daemon that is not installed is not started.
/// </summary>
public sealed class ScannerDaemons : IAsyncLifetime
{
    /// <summary>The EICAR anti-virus test file, 68 bytes.</summary>
    public const string Eicar = @"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

    /// <summary>SpamAssassin's GTUBE: any message holding it scores 1000.</summary>
    public const string Gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "inlet-scanners", Guid.NewGuid().ToString("N"));
    private readonly List<Process> _processes = [];

    public IPEndPoint? Spamd { get; private set; }

    public IPEndPoint? Clamd { get; private set; }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        var starts = new List<Task>();
        if (InstalledFactAttribute.Find("spamd") is { } spamd)
        {
            starts.Add(StartSpamdAsync(spamd));
        }

        if (InstalledFactAttribute.Find("clamd") is { } clamd)
        {
            starts.Add(StartClamdAsync(clamd));
        }

        await Task.WhenAll(starts);
    }

    private async Task StartSpamdAsync(string program)
    {
        var port = LoopbackPorts.Free();
        Start(program, "--listen", $"127.0.0.1:{port}", "-L", "-x", "-u", "nobody", "--max-children", "2", "--syslog", Path.Combine(_folder, "spamd.log"));
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        // Ready when it answers PING (rule loading takes a few seconds).
        await WaitAsync(async () => (await ExchangeAsync(endPoint, "PING SPAMC/1.5\r\n\r\n"u8.ToArray())).Contains("PONG", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "spamd");
        Spamd = endPoint;
    }

    private async Task StartClamdAsync(string program)
    {
        var port = LoopbackPorts.Free();
        var database = Path.Combine(_folder, "db");
        Directory.CreateDirectory(database);
        var md5 = Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(Encoding.ASCII.GetBytes(Eicar)));
        await File.WriteAllTextAsync(Path.Combine(database, "test.hdb"), $"{md5}:{Eicar.Length}:Eicar-Test-Signature\n");
        var config = Path.Combine(_folder, "clamd.conf");
        await File.WriteAllTextAsync(config, $"""
            DatabaseDirectory {database}
            TCPSocket {port}
            TCPAddr 127.0.0.1
            Foreground yes
            LogFile {Path.Combine(_folder, "clamd.log")}

            """);
        Start(program, "-c", config);
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        await WaitAsync(async () => (await ExchangeAsync(endPoint, "zPING\0"u8.ToArray())).Contains("PONG", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "clamd");
        Clamd = endPoint;
    }

    private void Start(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _folder };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (_processes)
        {
            _processes.Add(process);
        }
    }

    private static async Task WaitAsync(Func<Task<bool>> ready, TimeSpan limit, string name)
    {
        var deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await ready())
                {
                    return;
                }
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                // Not listening yet.
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"{name} did not start within {limit.TotalSeconds} s");
    }

    private static async Task<string> ExchangeAsync(IPEndPoint endPoint, byte[] request)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await client.ConnectAsync(endPoint, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(request, timeout.Token);
        client.Client.Shutdown(SocketShutdown.Send);
        using var reply = new MemoryStream();
        await stream.CopyToAsync(reply, timeout.Token);
        return Encoding.ASCII.GetString(reply.ToArray());
    }

    public Task DisposeAsync()
    {
        lock (_processes)
        {
            foreach (var process in _processes)
            {
                try
                {
                    // spamd forks children: the whole tree goes.
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(10_000);
                }
                catch (InvalidOperationException)
                {
                    // Already gone.
                }

                process.Dispose();
            }
        }

        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }

        return Task.CompletedTask;
    }
}
