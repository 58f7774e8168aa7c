using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace Inlet.IntegrationTests;

/// <summary>
/// A fact that mounts file systems: skipped, with the reason, when the tests do not run as root or this machine does
/// not let root mount a tmpfs (a container without the capability); it is tried once.
/// </summary>
public sealed class RootFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> s_mountProblem = new(() =>
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            return "needs root on Linux, to mount a small tmpfs as the spool";
        }

        var probe = Directory.CreateTempSubdirectory("inlet-mount-probe").FullName;
        try
        {
            using var mount = Process.Start(new ProcessStartInfo("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]) { RedirectStandardError = true })!;
            mount.WaitForExit();
            if (mount.ExitCode != 0)
            {
                return $"this machine does not let root mount a tmpfs ({mount.StandardError.ReadToEnd().Trim()})";
            }

            using var umount = Process.Start(new ProcessStartInfo("umount", [probe]) { RedirectStandardError = true })!;
            umount.WaitForExit();
            return null;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"mount cannot be run: {e.Message}";
        }
        finally
        {
            try
            {
                Directory.Delete(probe);
            }
            catch (IOException)
            {
                // Still mounted: left for the system to clean.
            }
        }
    });

    public RootFactAttribute()
    {
        if (s_mountProblem.Value is { } problem)
        {
            Skip = problem;
        }
    }
}

/// <summary>The spool on a 5 MB tmpfs: every message gets a reply, nothing half-written stays, MAIL is deferred early.</summary>
public sealed class DiskFullTests(ITestOutputHelper output)
{
    private static async Task<bool> RunAsync(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        await process.WaitForExitAsync();
        return process.ExitCode == 0;
    }

    /// <summary>A data folder whose spool is a fresh 5 MB tmpfs, or null when it cannot be mounted.</summary>
    private static async Task<string?> MountSpoolAsync()
    {
        var directory = TestServer.NewDirectory();
        var spool = Path.Combine(directory, "spool");
        Directory.CreateDirectory(spool);
        return await RunAsync("mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", spool) ? directory : null;
    }

    private static async Task UnmountAsync(string directory)
    {
        await RunAsync("umount", "-l", Path.Combine(directory, "spool"));
        Directory.Delete(directory, recursive: true);
    }

    private static string Message(int size)
    {
        var text = new StringBuilder("Subject: filler\r\n\r\n");
        while (text.Length < size)
        {
            text.Append(new string('x', 76)).Append("\r\n");
        }

        return text.Append(".\r\n").ToString();
    }

    [RootFact]
    public async Task FullSpool_EveryMessageGets452AndNoTemporaryFileIsLeft()
    {
        var directory = await MountSpoolAsync();
        Assert.True(directory is not null, "mount -t tmpfs failed, although a probe mount worked");

        try
        {
            var replies = new Dictionary<string, int>();
            await using (var server = await TestServer.StartAsync(directory: directory, adjust: o => o with { Smtp = o.Smtp with { MinFreeSpace = 0 } }))
            {
                foreach (var size in new[] { 400_000, 300_000, 500_000, 2_000 })
                {
                    for (var i = 0; i < 8; i++)
                    {
                        await using var client = await RawSmtpClient.ConnectAsync(server.Smtp);
                        await client.ExpectAsync(220);
                        await client.SendAsync("EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n");
                        await client.ExpectAsync(250);
                        await client.ExpectAsync(250);
                        await client.ExpectAsync(250);
                        await client.ExpectAsync(354);
                        await client.SendAsync(Message(size));
                        var reply = await client.ReadReplyAsync();
                        Assert.NotNull(reply);
                        var code = reply[..9];
                        replies[code] = replies.GetValueOrDefault(code) + 1;
                    }
                }

                output.WriteLine(string.Join(", ", replies.Select(r => $"{r.Key}: {r.Value}")));
                Assert.Contains("452 4.3.1", replies.Keys);
                Assert.All(replies.Keys, code => Assert.True(code.StartsWith("250", StringComparison.Ordinal) || code == "452 4.3.1", code));
                Assert.Empty(Directory.EnumerateFiles(Path.Combine(directory, "spool"), "#*"));
            }
        }
        finally
        {
            await UnmountAsync(directory);
        }
    }

    [RootFact]
    public async Task SpoolBelowMinFreeSpace_DefersMailWith452()
    {
        var directory = await MountSpoolAsync();
        Assert.True(directory is not null, "mount -t tmpfs failed, although a probe mount worked");

        try
        {
            await using var server = await TestServer.StartAsync(directory: directory, adjust: o => o with { Smtp = o.Smtp with { MinFreeSpace = 10L * 1024 * 1024 } });
            await using var client = await RawSmtpClient.ConnectAsync(server.Smtp);
            await client.ExpectAsync(220);
            await client.SendAsync("EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\n");
            await client.ExpectAsync(250);
            Assert.StartsWith("452 4.3.1", await client.ExpectAsync(452));
        }
        finally
        {
            await UnmountAsync(directory);
        }
    }
}
