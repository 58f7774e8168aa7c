using System.Diagnostics;
using System.Globalization;

namespace Inlet.Functions;

/// <summary>
/// The resident memory of an environment's process tree: sampled for MemorySize, which is a limit as in Lambda,
/// and kept at its peak for REPORT's Max Memory Used.
/// </summary>
/// <remarks>
/// Looking costs the kernel a rendering of <c>/proc/PID/status</c> and, for the descendants, a read of every
/// thread's <c>children</c> file (a Node runtime has a dozen threads). Every environment is sampled ten times a
/// second, idle or not, so the descendants are looked for once a second only — runtimes rarely start processes of
/// their own — and REPORT reuses a look less than <see cref="FreshFor"/> old instead of making one per invocation.
/// </remarks>
internal sealed class EnvironmentMemory : IDisposable
{
    /// <summary>How old the root's last look may be for REPORT to use it.</summary>
    private static readonly long FreshFor = Stopwatch.Frequency / 20;

    /// <summary>Samples between two searches for descendants: one a second at the watch's 100 ms.</summary>
    private const int SamplesPerSearch = 10;

    private readonly int _pid;
    private readonly ProcStatus _root;
    private int[] _descendants = [];
    private int _samples;
    private int _peakMb;
    /// <summary>When the root was last looked at (a Stopwatch timestamp); 0 before the first look.</summary>
    private long _lastLook;

    public EnvironmentMemory(int pid)
    {
        _pid = pid;
        _root = new ProcStatus(pid);
    }

    /// <summary>The largest resident memory seen, in MB: the root's own peak and the tree's sampled ones.</summary>
    public int PeakMb => Volatile.Read(ref _peakMb);

    /// <summary>
    /// Lambda's Max Memory Used. The root's peak as looked at now, or by a look under 50 ms old: a rise since shows
    /// in a later REPORT, as the peak only grows.
    /// </summary>
    public int MaxUsedMb()
    {
        var last = Volatile.Read(ref _lastLook);
        if (last == 0 || Stopwatch.GetTimestamp() - last > FreshFor)
        {
            LookAtRoot();
        }

        return PeakMb;
    }

    /// <summary>One sample of the whole tree, in MB. Called by one timer, never twice at once.</summary>
    public int Sample()
    {
        long kb = LookAtRoot() ?? 0;
        if (_samples++ % SamplesPerSearch == 0)
        {
            _descendants = Descendants(_pid);
        }

        foreach (var descendant in _descendants)
        {
            using var status = new ProcStatus(descendant);
            kb += status.Memory().ResidentKb ?? 0;
        }

        var mb = ToMb(kb);
        Raise(mb);
        return mb;
    }

    public void Dispose() => _root.Dispose();

    /// <summary>The root's resident kB now; its peak is kept on the way.</summary>
    private long? LookAtRoot()
    {
        var (resident, peak) = _root.Memory();
        Volatile.Write(ref _lastLook, Stopwatch.GetTimestamp());
        if (peak is { } kb)
        {
            Raise(ToMb(kb));
        }

        return resident;
    }

    private void Raise(int mb)
    {
        var seen = Volatile.Read(ref _peakMb);
        while (mb > seen)
        {
            var previous = Interlocked.CompareExchange(ref _peakMb, mb, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }

    private static int ToMb(long kb) => (int)Math.Ceiling(kb / 1024.0);

    /// <summary>Every process below <paramref name="pid"/>, from the <c>children</c> file of each of its threads.</summary>
    private static int[] Descendants(int pid)
    {
        var found = new List<int>();
        var pending = new Stack<int>([pid]);
        while (pending.Count > 0)
        {
            var current = pending.Pop();
            try
            {
                foreach (var task in Directory.EnumerateDirectories($"/proc/{current}/task"))
                {
                    var children = File.ReadAllText(Path.Combine(task, "children"));
                    foreach (var child in children.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    {
                        var childPid = int.Parse(child, CultureInfo.InvariantCulture);
                        found.Add(childPid);
                        pending.Push(childPid);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                // The process ended while it was read.
            }
        }

        return [.. found];
    }
}
