using System.Collections.Concurrent;

namespace Inlet.Core;

/// <summary>
/// The loop behind Inlet's durable queues (asynchronous invocations, SNS deliveries): take the items that are due
/// from the state store, run up to <paramref name="parallelism"/> at once — each item once at a time — and sleep
/// until the next one is due or new work is signalled. Items stay durable in the store; the loop only schedules.
/// </summary>
internal sealed class DueWorkLoop<T>(
    Func<DateTimeOffset, int, CancellationToken, Task<IReadOnlyList<T>>> listDue,
    Func<CancellationToken, Task<DateTimeOffset?>> nextDue,
    Func<T, string> idOf,
    Func<T, CancellationToken, Task> run,
    int parallelism,
    TimeProvider time)
{
    private readonly SemaphoreSlim _wake = new(0);
    private readonly ConcurrentDictionary<string, byte> _inFlight = new();

    // When each item last finished: a list read while an item was finishing may still show it as due, and such a
    // stale row must not run it a second time.
    private readonly ConcurrentDictionary<string, long> _finishedAt = new();
    private long _clock;

    /// <summary>New work was written: look again now rather than at the next due time.</summary>
    public void Wake() => _wake.Release();

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        var running = new List<Task>();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                running.RemoveAll(t => t.IsCompleted);
                if (running.Count < parallelism)
                {
                    var listedAt = Interlocked.Increment(ref _clock);
                    foreach (var item in await listDue(time.GetUtcNow(), parallelism * 2, stoppingToken))
                    {
                        if (running.Count >= parallelism)
                        {
                            break;
                        }

                        var id = idOf(item);
                        if (_finishedAt.TryGetValue(id, out var finished) && finished >= listedAt)
                        {
                            continue;
                        }

                        if (_inFlight.TryAdd(id, 0))
                        {
                            running.Add(RunOneAsync(id, item, stoppingToken));
                        }
                    }

                    Forget(listedAt);
                }

                var next = await nextDue(stoppingToken);
                var wait = running.Count >= parallelism ? TimeSpan.FromMilliseconds(20)
                    : next is { } n ? TimeSpan.FromMilliseconds(Math.Clamp((n - time.GetUtcNow()).TotalMilliseconds, 5, 1000))
                    : TimeSpan.FromSeconds(1);
                await _wake.WaitAsync(wait, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: what is still due is durable and runs after the next start.
        }

        await Task.WhenAll(running.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
    }

    private async Task RunOneAsync(string id, T item, CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            await run(item, stoppingToken);
        }
        finally
        {
            _finishedAt[id] = Interlocked.Increment(ref _clock);
            _inFlight.TryRemove(id, out _);
            _wake.Release();
        }
    }

    /// <summary>Items that finished before this list was read are seen as they are now; their marks can go.</summary>
    private void Forget(long listedAt)
    {
        foreach (var (id, finished) in _finishedAt)
        {
            if (finished < listedAt)
            {
                _finishedAt.TryRemove(new KeyValuePair<string, long>(id, finished));
            }
        }
    }
}
