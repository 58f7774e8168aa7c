using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Inlet.IntegrationTests;

/// <summary>The real <c>inlet</c> executable as a child process, for what only a process can show: kill -9, signals, memory.</summary>
internal sealed partial class InletProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];

    private InletProcess(Process process)
    {
        _process = process;
    }

    public IPEndPoint Smtp { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public int Id => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join("\n", _output);
            }
        }
    }

    [GeneratedRegex(@"SMTP on (?<smtp>[\d.]+:\d+), HTTP on http://(?<http>[\d.]+:\d+)")]
    private static partial Regex Listening();

    public static async Task<InletProcess> StartAsync(string dataDirectory, string? configPath = null)
    {
        var arguments = new List<string> { Path.Combine(AppContext.BaseDirectory, "inlet.dll"), "serve", "--data-dir", dataDirectory, "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--https", "127.0.0.1:0" };
        if (configPath is not null)
        {
            arguments.AddRange(["--config", configPath]);
        }

        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dataDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info)!;
        var inlet = new InletProcess(process);
        var ready = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) => inlet.OnLine(e.Data, ready);
        process.ErrorDataReceived += (_, e) => inlet.OnLine(e.Data, ready);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(ready.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != ready.Task)
        {
            process.Kill();
            throw new InvalidOperationException($"inlet did not start:\n{inlet.Output}");
        }

        var match = await ready.Task;
        inlet.Smtp = IPEndPoint.Parse(match.Groups["smtp"].Value);
        inlet.Http = new HttpClient { BaseAddress = new Uri($"http://{match.Groups["http"].Value}") };
        return inlet;
    }

    private void OnLine(string? line, TaskCompletionSource<Match> ready)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Add(line);
        }

        var match = Listening().Match(line);
        if (match.Success)
        {
            ready.TrySetResult(match);
        }
    }

    /// <summary>SIGKILL: no chance to flush or clean up.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as a service manager stops a service; returns the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>Resident memory in bytes, from /proc.</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Http?.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
