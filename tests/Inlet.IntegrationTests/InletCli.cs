using System.Diagnostics;
using System.Text;

namespace Inlet.IntegrationTests;

/// <summary>One run of the real <c>inlet</c> executable, with its standard output kept as bytes (what <c>&gt; file</c> gets).</summary>
internal sealed record InletCli(int ExitCode, byte[] Stdout, string Stderr)
{
    public string Output => Encoding.UTF8.GetString(Stdout);

    public static async Task<InletCli> RunAsync(params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "inlet.dll"));
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        using var stdout = new MemoryStream();
        var copy = process.StandardOutput.BaseStream.CopyToAsync(stdout);
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        await copy;
        return new InletCli(process.ExitCode, stdout.ToArray(), await stderr);
    }

    /// <summary><c>--server</c> for a test server.</summary>
    public static string Server(TestServer server) => $"http://{server.Server.HttpEndPoint}";
}
