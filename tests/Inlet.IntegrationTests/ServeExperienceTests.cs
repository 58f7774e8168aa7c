using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Inlet.Hosting;

namespace Inlet.IntegrationTests;

/// <summary>What a newcomer meets running <c>inlet serve</c>: a busy port named by its setting, a file edit applied at once.</summary>
public class ServeExperienceTests
{
    [Fact]
    public async Task Serve_SmtpPortInUse_NamesTheSettingInOneLine()
    {
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var port = ((IPEndPoint)busy.LocalEndpoint).Port;
        var directory = TestServer.NewDirectory();

        using var process = StartServe(directory, "--smtp", $"127.0.0.1:{port}", "--https", "127.0.0.1:0");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        var error = (await stderr).Trim();
        Assert.Equal(2, process.ExitCode);
        Assert.Equal($"inlet: Smtp.Listen: 127.0.0.1:{port} is already in use by another program; choose another address with --smtp or Smtp.Listen", error);
        Assert.DoesNotContain(" at ", await stdout);
        Assert.DoesNotContain("Exception", await stdout);
    }

    [Fact]
    public async Task Serve_LogLevelWarning_LogsWarningsAndNoInformation()
    {
        var directory = TestServer.NewDirectory();
        var port = LoopbackPorts.Free();
        using var process = StartServe(directory, "--smtp", $"127.0.0.1:{port}", "--https", "off", "--log-level", "Warning");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            // Listening: the line that says so is information, so the port is asked instead.
            await WaitUntilAsync(async () =>
            {
                using var client = new TcpClient();
                try
                {
                    await client.ConnectAsync(IPAddress.Loopback, port);
                    return true;
                }
                catch (SocketException)
                {
                    return false;
                }
            }, "inlet serve did not listen on its SMTP port within 30 s");
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        var output = await stdout;
        Assert.Contains("warn: Inlet[2] No receipt rule set is active", output);
        Assert.DoesNotContain("info:", output);
        Assert.Equal(string.Empty, (await stderr).Trim());
    }

    [Fact]
    public async Task Serve_VerboseAndLogLevel_RefusesTheTwoInOneLine()
    {
        var result = await InletCli.RunAsync("serve", "--data-dir", TestServer.NewDirectory(), "--verbose", "--log-level", "Error");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("inlet: --verbose is --log-level Debug; give one of them", result.Stderr.Trim());
    }

    /// <summary>The real <c>inlet serve</c> on <paramref name="directory"/>, HTTP on a port of its choosing, its output redirected.</summary>
    private static Process StartServe(string directory, params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "inlet.dll"), "serve", "--data-dir", directory, "--http", "127.0.0.1:0" }.Concat(arguments))
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info)!;
    }

    [Fact]
    public async Task Serve_HttpsPortInUse_IsCalledHttpsListen()
    {
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var port = ((IPEndPoint)busy.LocalEndpoint).Port;
        var e = await Assert.ThrowsAsync<ConfigurationException>(() => TestServer.StartAsync(adjust: o => o with { Http = o.Http with { HttpsListen = $"127.0.0.1:{port}" } }));
        Assert.StartsWith($"Http.HttpsListen: 127.0.0.1:{port} is already in use", e.Message);
    }

    [Fact]
    public async Task Serve_ConfigurationFileEdited_AppliesTheValidChangeAndKeepsItOverAnInvalidOne()
    {
        var directory = TestServer.NewDirectory();
        var path = Path.Combine(directory, "inlet.yaml");
        await File.WriteAllTextAsync(path, Rules("first.test"));
        await using var server = await TestServer.StartAsync(await File.ReadAllTextAsync(path), o => o with { SourceFile = path });

        Assert.Equal(250, await RcptAsync(server, "a@first.test"));
        Assert.Equal(550, await RcptAsync(server, "a@second.test"));

        await File.WriteAllTextAsync(path, Rules("second.test"));
        await WaitUntilAsync(async () => await RcptAsync(server, "a@second.test") == 250);
        Assert.Equal(550, await RcptAsync(server, "a@first.test"));

        // A broken file is refused as a whole: the rules in force stay.
        await File.WriteAllTextAsync(path, Rules("third.test").Replace("Recipients", "Recipents", StringComparison.Ordinal));
        await Task.Delay(ConfigurationWatcher.PollInterval * 4);
        Assert.Equal(250, await RcptAsync(server, "a@second.test"));
        Assert.Equal(550, await RcptAsync(server, "a@third.test"));
    }

    private static string Rules(string domain) => $$"""
        ReceiptRuleSets:
          - RuleSetName: main
            Rules:
              - Name: accept
                Enabled: true
                Recipients: [{{domain}}]
        ActiveReceiptRuleSet: main
        """;

    private static async Task<int> RcptAsync(TestServer server, string recipient)
    {
        await using var client = await RawSmtpClient.ConnectAsync(server.Smtp);
        await client.ExpectAsync(220);
        await client.SendAsync("EHLO test\r\nMAIL FROM:<s@sender.test>\r\n");
        await client.ExpectAsync(250);
        await client.ExpectAsync(250);
        await client.SendAsync($"RCPT TO:<{recipient}>\r\n");
        var reply = await client.ReadReplyAsync();
        return int.Parse(reply![..3], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string failure = "the change was not applied within 30 s")
    {
        for (var i = 0; i < 300; i++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail(failure);
    }
}
