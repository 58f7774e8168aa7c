using System.Collections.Concurrent;
using System.Net;

namespace Inlet.Smtp.Transport;

/// <summary>
/// Counts open SMTP connections, in total and per client address. When every slot is taken, the connection that
/// has gone longest without progress (a completed command or message data), if that is longer than
/// <see cref="SmtpOptions.ReclaimIdleAfter"/>, is asked to close so that the newcomer gets its slot: clients that
/// hold connections open without using them cannot lock out the ones that do.
/// </summary>
internal sealed class SmtpConnectionLimiter(SmtpOptions options)
{
    private readonly ConcurrentDictionary<IPAddress, int> _perClient = new();
    private readonly ConcurrentDictionary<SmtpSlot, byte> _slots = new();
    private readonly Lock _reclaim = new();
    private int _total;

    public int Open => Volatile.Read(ref _total);

    /// <summary>Takes a slot, or returns the 421 reply that refuses the connection.</summary>
    public SmtpReply? TryAcquire(IPAddress? client, out SmtpSlot? slot)
    {
        slot = null;
        if (client is not null && _perClient.AddOrUpdate(client, 1, (_, n) => n + 1) > options.MaxConnectionsPerClient)
        {
            ReleaseClient(client);
            return SmtpReply.TooManyConnectionsFromClient;
        }

        if (Interlocked.Increment(ref _total) > options.MaxConnections)
        {
            Interlocked.Decrement(ref _total);
            if (!TryReclaim())
            {
                ReleaseClient(client);
                return SmtpReply.TooManyConnections;
            }

            Interlocked.Increment(ref _total);
        }

        slot = new SmtpSlot(this, client);
        _slots.TryAdd(slot, 0);
        return null;
    }

    /// <summary>Evicts the idlest connection idle for longer than the threshold; its slot is freed at once.</summary>
    private bool TryReclaim()
    {
        lock (_reclaim)
        {
            var now = Environment.TickCount64;
            var threshold = (long)options.ReclaimIdleAfter.TotalMilliseconds;
            SmtpSlot? idlest = null;
            foreach (var slot in _slots.Keys)
            {
                if (!slot.Evicted && !slot.Busy && now - slot.LastProgress > threshold && (idlest is null || slot.LastProgress < idlest.LastProgress))
                {
                    idlest = slot;
                }
            }

            if (idlest is null)
            {
                return false;
            }

            idlest.Evict();
            Release(idlest);
            return true;
        }
    }

    internal void Release(SmtpSlot slot)
    {
        if (!slot.MarkReleased())
        {
            return;
        }

        _slots.TryRemove(slot, out _);
        Interlocked.Decrement(ref _total);
        ReleaseClient(slot.Client);
    }

    private void ReleaseClient(IPAddress? client)
    {
        if (client is null)
        {
            return;
        }

        while (_perClient.TryGetValue(client, out var n))
        {
            if (n <= 1 ? _perClient.TryRemove(new KeyValuePair<IPAddress, int>(client, n)) : _perClient.TryUpdate(client, n - 1, n))
            {
                return;
            }
        }
    }
}

/// <summary>One connection's place in the limiter: when it last made progress, and whether it was asked to make room.</summary>
internal sealed class SmtpSlot(SmtpConnectionLimiter limiter, IPAddress? client) : IDisposable
{
    private long _lastProgress = Environment.TickCount64;
    private int _released;
    private volatile bool _evicted;

    public IPAddress? Client { get; } = client;

    public long LastProgress => Volatile.Read(ref _lastProgress);

    public bool Evicted => _evicted;

    /// <summary>The server is working for this client (committing a message, inline processing): not idle, whatever the clock says.</summary>
    public bool Busy { get; set; }

    /// <summary>Called when the connection is asked to close; the connection's loop notices it at its next check.</summary>
    public Action? OnEvicted { get; set; }

    public void Progress() => Volatile.Write(ref _lastProgress, Environment.TickCount64);

    public void Evict()
    {
        _evicted = true;
        OnEvicted?.Invoke();
    }

    public bool MarkReleased() => Interlocked.Exchange(ref _released, 1) == 0;

    public void Dispose() => limiter.Release(this);
}
