using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Inlet.Core;

/// <summary>
/// The loop behind Inlet's durable queues (messages, asynchronous invocations, SNS deliveries, outbound mail): claim
/// the items that are due for a lease, run up to <paramref name="parallelism"/> at once, renew the leases of those
/// still running, release each when it is done (unless its run's last write did), and sleep until the next is due or new work is signalled. Items
/// stay durable in the store; a claim is what makes an item this node's, so no item runs twice at once, on this
/// node or another. An item whose run fails unexpectedly (the store or the spool, not the work itself) keeps its
/// lease until <paramref name="lease"/> runs out, which is its back-off.
/// </summary>
internal sealed partial class DueWorkLoop<T>(
    string name,
    IWorkQueue<T> queue,
    Func<T, string> idOf,
    Func<T, CancellationToken, Task<LeaseAfterRun>> run,
    int parallelism,
    TimeSpan lease,
    TimeProvider time,
    ILogger logger)
{
    /// <summary>A loop whose runs leave their item leased, for the loop to release.</summary>
    public DueWorkLoop(string name, IWorkQueue<T> queue, Func<T, string> idOf, Func<T, CancellationToken, Task> run, int parallelism, TimeSpan lease, TimeProvider time, ILogger logger)
        : this(name, queue, idOf, async (item, ct) =>
        {
            await run(item, ct);
            return LeaseAfterRun.Held;
        }, parallelism, lease, time, logger)
    {
    }

    private readonly SemaphoreSlim _wake = new(0);
    private readonly ConcurrentDictionary<string, byte> _running = new();

    /// <summary>The runs started and not yet seen complete by the loop (guarded by itself).</summary>
    private readonly List<Task> _tasks = [];

    /// <summary>Slots taken: items running, items handed over and about to run, and the slots of a claim under way.</summary>
    private int _slots;

    /// <summary>Whether the last claim found fewer due items than it could take, and no new work was written since.</summary>
    private volatile bool _caughtUp;

    /// <summary>How many times new work was signalled: a claim that saw it change while it ran cannot say it caught up.</summary>
    private int _wakes;

    private CancellationToken _stopping;

    private volatile bool _started;

    /// <summary>Whether items are handed over to this loop (<see cref="TryReserve"/>); its runs' ends then wake it only while older work waits.</summary>
    private volatile bool _handsOver;

    /// <summary>The lease of an item this loop runs.</summary>
    public TimeSpan Lease => lease;

    /// <summary>New work was written: look again now rather than at the next due time.</summary>
    public void Wake()
    {
        Interlocked.Increment(ref _wakes);
        _caughtUp = false;
        _wake.Release();
    }

    /// <summary>
    /// A slot for an item this node is about to write already leased to itself (<see cref="Lease"/>), to run without
    /// a claim: true only while a slot is free and the queue is caught up, so that new work never passes older work
    /// that waits. The caller then calls <see cref="Start"/> once the item is durable, or <see cref="Unreserve"/>.
    /// </summary>
    public bool TryReserve()
    {
        _handsOver = true;
        if (!_started || !_caughtUp || _stopping.IsCancellationRequested)
        {
            return false;
        }

        var taken = Volatile.Read(ref _slots);
        while (taken < parallelism)
        {
            var seen = Interlocked.CompareExchange(ref _slots, taken + 1, taken);
            if (seen == taken)
            {
                return true;
            }

            taken = seen;
        }

        return false;
    }

    /// <summary>Runs a reserved item, which is durable and leased to this node.</summary>
    public void Start(T item) => Launch(item, _stopping);

    public void Unreserve() => Interlocked.Decrement(ref _slots);

    private void Launch(T item, CancellationToken stoppingToken)
    {
        var id = idOf(item);
        _running[id] = 0;
        var task = RunOneAsync(id, item, stoppingToken);
        lock (_tasks)
        {
            _tasks.Add(task);
        }
    }

    /// <summary>Takes every free slot at once, for a claim; returns how many.</summary>
    private int TakeFreeSlots()
    {
        var taken = Volatile.Read(ref _slots);
        while (taken < parallelism)
        {
            var seen = Interlocked.CompareExchange(ref _slots, parallelism, taken);
            if (seen == taken)
            {
                return parallelism - taken;
            }

            taken = seen;
        }

        return 0;
    }

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        _started = true;
        var renewed = time.GetTimestamp();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                lock (_tasks)
                {
                    _tasks.RemoveAll(t => t.IsCompleted);
                }

                var claimed = 0;
                // The claim's slots are taken before it asks, so that items handed over meanwhile never make more
                // than the parallelism; the ones it does not fill are given back.
                var free = TakeFreeSlots();
                if (free > 0)
                {
                    var wakes = Volatile.Read(ref _wakes);
                    IReadOnlyList<T> items = [];
                    try
                    {
                        items = await ClaimAsync(free, stoppingToken);
                        // Work written while the claim looked may have been missed by it: caught up only without any.
                        _caughtUp = items.Count < free && Volatile.Read(ref _wakes) == wakes;
                    }
                    finally
                    {
                        Interlocked.Add(ref _slots, items.Count - free);
                    }

                    foreach (var item in items)
                    {
                        Launch(item, stoppingToken);
                        claimed++;
                    }
                }

                if (time.GetElapsedTime(renewed) >= lease / 3)
                {
                    await RenewAsync(stoppingToken);
                    renewed = time.GetTimestamp();
                }

                // Under load every wake claims something, and the next wake comes soon: only an idle look asks the
                // store when the next retry is due.
                var full = Volatile.Read(ref _slots) >= parallelism;
                if (full)
                {
                    // Due work may wait behind the full slots: the first run to end wakes the loop to claim it,
                    // and nothing is handed over before that claim.
                    _caughtUp = false;
                }

                var next = claimed > 0 || full ? null : await NextDueAsync(stoppingToken);
                var wait = full ? lease / 3
                    : claimed > 0 ? TimeSpan.FromMilliseconds(100)
                    : next is { } n ? TimeSpan.FromMilliseconds(Math.Clamp((n - time.GetUtcNow()).TotalMilliseconds, 5, 1000))
                    : TimeSpan.FromSeconds(1);
                await _wake.WaitAsync(Min(wait, lease / 3), stoppingToken);
                // Many wakes while the loop was busy ask for one look, not one each.
                while (_wake.Wait(0))
                {
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: what is still due is durable and runs after the next start.
        }

        _started = false;
        Task[] left;
        lock (_tasks)
        {
            left = [.. _tasks];
        }

        await Task.WhenAll(left.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
    }

    private async Task<IReadOnlyList<T>> ClaimAsync(int limit, CancellationToken stoppingToken)
    {
        try
        {
            return await queue.ClaimDueAsync(time.GetUtcNow(), lease, limit, stoppingToken);
        }
        catch (Exception e) when (StoreFailed(e, stoppingToken))
        {
            // The store is away (a database restart): the items stay where they are, and the loop looks again.
            LogClaimFailed(logger, name, e.Message);
            await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            return [];
        }
    }

    /// <summary>When the next waiting item is due, or null when none waits or the store cannot say now.</summary>
    private async Task<DateTimeOffset?> NextDueAsync(CancellationToken stoppingToken)
    {
        try
        {
            return await queue.NextDueAsync(stoppingToken);
        }
        catch (Exception e) when (StoreFailed(e, stoppingToken))
        {
            // The store went away between the claim and this look (a database restart): the loop looks again in a
            // second. Had this escaped, the loop would have ended, and with it the host.
            LogNextDueFailed(logger, name, e.Message);
            return null;
        }
    }

    private async Task RenewAsync(CancellationToken stoppingToken)
    {
        try
        {
            await queue.RenewAsync([.. _running.Keys], time.GetUtcNow(), lease, stoppingToken);
        }
        catch (Exception e) when (StoreFailed(e, stoppingToken))
        {
            // Tried again at the next third of the lease; a lease that runs out meanwhile goes to another node.
        }
    }

    private async Task RunOneAsync(string id, T item, CancellationToken stoppingToken)
    {
        await Task.Yield();
        var release = true;
        try
        {
            release = await run(item, stoppingToken) == LeaseAfterRun.Held;
        }
        catch (WorkLeaseLostException)
        {
            // Another node took the item over; the lease is its own now.
            LogLeaseLost(logger, name, id);
            release = false;
        }
        catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            // Held until the lease runs out: the back-off before the item is tried again.
            LogRunFailed(logger, name, id, lease.TotalSeconds, e);
            release = false;
        }
        finally
        {
            _running.TryRemove(id, out _);
            Interlocked.Decrement(ref _slots);
            if (release)
            {
                try
                {
                    await queue.ReleaseAsync(id, CancellationToken.None);
                }
                catch (Exception e) when (StoreFailed(e, CancellationToken.None))
                {
                    // The lease runs out by itself.
                }
            }

            // A freed slot is worth a claim only while older work waits; caught up, new items are handed over (and
            // a run that leaves its item due again later says so with Wake).
            if (!_caughtUp || !_handsOver)
            {
                _wake.Release();
            }
        }
    }

    [LoggerMessage(EventId = 1200, Level = LogLevel.Warning, Message = "{Queue}: cannot claim work from the state store, trying again: {Error}")]
    private static partial void LogClaimFailed(ILogger logger, string queue, string error);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Warning, Message = "{Queue}: cannot read from the state store when the next item is due, looking again: {Error}")]
    private static partial void LogNextDueFailed(ILogger logger, string queue, string error);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "{Queue}: item {Id} was taken over by another node after this node's lease ran out")]
    private static partial void LogLeaseLost(ILogger logger, string queue, string id);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Error, Message = "{Queue}: item {Id} could not be run; it is tried again in {Seconds} s")]
    private static partial void LogRunFailed(ILogger logger, string queue, string id, double seconds, Exception exception);

    /// <summary>
    /// Whether an exception from the store is its failure rather than this loop stopping: a cancellation the store
    /// raised itself (a timeout of its own) is a failure too, and letting it out would end the loop and the host.
    /// </summary>
    private static bool StoreFailed(Exception e, CancellationToken stoppingToken) =>
        e is not OperationCanceledException || !stoppingToken.IsCancellationRequested;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
