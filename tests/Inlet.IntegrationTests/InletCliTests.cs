using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using MimeKit;

namespace Inlet.IntegrationTests;

/// <summary>The <c>inlet</c> command line as a user runs it: the real executable against a server on port 0.</summary>
public class InletCliTests
{
    [Fact]
    public async Task ApiErrors_UnknownFunctionAndMessage_PrintCodeAndMessageOnOneLine()
    {
        await using var server = await TestServer.StartAsync();

        var invoke = await InletCli.RunAsync("invoke", "nosuch", "--server", InletCli.Server(server));
        var logs = await InletCli.RunAsync("logs", "nosuch", "--server", InletCli.Server(server));

        const string notFound = "inlet: ResourceNotFoundException: Function not found: arn:aws:lambda:us-east-1:000000000000:function:nosuch";
        Assert.Equal(1, invoke.ExitCode);
        Assert.Equal(notFound, invoke.Stderr.TrimEnd('\n'));
        Assert.Equal(1, logs.ExitCode);
        Assert.Equal(notFound, logs.Stderr.TrimEnd('\n'));
    }

    [Fact]
    public async Task ApiCommand_NothingListening_SaysWhichUrlItTried()
    {
        // A port that was free a moment ago: connecting to it is refused.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        listener.Stop();

        var result = await InletCli.RunAsync("messages", "--server", url);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"inlet: cannot reach Inlet at {url} (", line);
        Assert.Contains("is `inlet serve` running?", line);
    }
}
