using System.Collections.Concurrent;

namespace Inlet.Functions;

/// <summary>
/// Samples the memory of every live execution environment ten times a second, from one timer.
/// </summary>
/// <remarks>
/// A timer of each environment's own woke a thread-pool thread ten times a second per environment, and a woken
/// thread spins for a while before it sleeps again: with ten warm environments that was most of an idle node's
/// CPU. The timer runs only while there is an environment to watch.
/// </remarks>
internal sealed class MemoryWatch
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    private readonly ConcurrentDictionary<ExecutionEnvironment, byte> _watched = new();
    private readonly Lock _gate = new();
    private readonly Timer _timer;
    private int _sampling;

    public MemoryWatch()
    {
        _timer = new Timer(_ => SampleAll(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public void Watch(ExecutionEnvironment environment)
    {
        lock (_gate)
        {
            if (_watched.TryAdd(environment, 0) && _watched.Count == 1)
            {
                _timer.Change(Interval, Interval);
            }
        }
    }

    public void Forget(ExecutionEnvironment environment)
    {
        lock (_gate)
        {
            if (_watched.TryRemove(environment, out _) && _watched.IsEmpty)
            {
                _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private void SampleAll()
    {
        // A round slower than the interval is not overlapped by the next one.
        if (Interlocked.Exchange(ref _sampling, 1) == 1)
        {
            return;
        }

        try
        {
            foreach (var environment in _watched.Keys)
            {
                environment.SampleMemory();
            }
        }
        finally
        {
            Volatile.Write(ref _sampling, 0);
        }
    }
}
