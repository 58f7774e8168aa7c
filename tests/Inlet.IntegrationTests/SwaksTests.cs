using System.Diagnostics;

namespace Inlet.IntegrationTests;

/// <summary>A fact that runs only where swaks is installed (CI installs it).</summary>
public sealed class SwaksFactAttribute : InstalledFactAttribute
{
    public SwaksFactAttribute()
        : base("swaks")
    {
    }
}

public class SwaksTests
{
    private static async Task<(int ExitCode, string Output)> SwaksAsync(params string[] arguments)
    {
        var info = new ProcessStartInfo("swaks") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }

    [SwaksFact]
    public async Task Swaks_PlainAndPipelined_IsAccepted()
    {
        await using var server = await TestServer.StartAsync();
        var (code, output) = await SwaksAsync("--server", server.Smtp.ToString(), "--to", "user@example.com", "--from", "swaks@sender.test", "--pipeline", "--header", "Subject: via swaks");
        Assert.True(code == 0, output);
        var id = output.Split('\n').Last(l => l.Contains("<** 250 2.0.0 Ok") || l.Contains("<~  250 2.0.0 Ok") || l.Contains("250 2.0.0 Ok")).Trim().Split(' ').Last();
        var message = await server.WaitForMessageAsync(id);
        Assert.Equal("via swaks", message.GetProperty("subject").GetString());
    }

    [SwaksFact]
    public async Task Swaks_StartTls_IsAcceptedForATlsOnlyRule()
    {
        await using var server = await TestServer.StartAsync();
        var (code, output) = await SwaksAsync("--server", server.Smtp.ToString(), "--to", "user@secure.example.org", "--from", "swaks@sender.test", "--tls");
        Assert.True(code == 0, output);
        Assert.Contains("250 2.0.0 Ok", output);
    }

    [SwaksFact]
    public async Task Swaks_UnknownRecipient_FailsWith550()
    {
        await using var server = await TestServer.StartAsync();
        var (code, output) = await SwaksAsync("--server", server.Smtp.ToString(), "--to", "user@unknown.test", "--from", "swaks@sender.test");
        Assert.NotEqual(0, code);
        Assert.Contains("550 5.1.1", output);
    }
}
