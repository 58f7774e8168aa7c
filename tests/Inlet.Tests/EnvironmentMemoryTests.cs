using System.Diagnostics;
using Inlet.Functions;

namespace Inlet.Tests;

/// <summary>The memory of a real process tree, read from Linux's /proc: what MemorySize limits and REPORT reports.</summary>
public sealed class EnvironmentMemoryTests
{
    [Fact]
    public async Task Sample_CountsAChildProcessBesideTheRoot()
    {
        // A child holding 64 MB, touched so that it is resident.
        using var child = Process.Start(new ProcessStartInfo("python3", ["-c", "import sys,time; b=bytearray(64*1024*1024); print('ready', flush=True); time.sleep(30)"])
        {
            RedirectStandardOutput = true,
        })!;
        try
        {
            Assert.Equal("ready", await child.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)));
            using var memory = new EnvironmentMemory(Environment.ProcessId);
            using var self = new ProcStatus(Environment.ProcessId);

            var tree = memory.Sample();
            var root = (int)Math.Ceiling((self.Memory().ResidentKb ?? 0) / 1024.0);

            Assert.InRange(tree - root, 60, int.MaxValue);
            Assert.True(memory.PeakMb >= tree, $"peak {memory.PeakMb} MB, sampled {tree} MB");
        }
        finally
        {
            child.Kill();
        }
    }

    [Fact]
    public void MaxUsed_IsAtLeastTheProcessesOwnPeak()
    {
        using var memory = new EnvironmentMemory(Environment.ProcessId);
        using var self = new ProcStatus(Environment.ProcessId);
        var peak = (int)Math.Ceiling((self.Memory().PeakKb ?? 0) / 1024.0);

        Assert.True(peak > 0);
        Assert.InRange(memory.MaxUsedMb(), peak, int.MaxValue);
    }

    [Fact]
    public void AProcessThatIsGone_ReadsAsNothing()
    {
        using var child = Process.Start("true")!;
        child.WaitForExit();
        using var status = new ProcStatus(child.Id);

        Assert.Equal((null, null), status.Memory());
    }
}
