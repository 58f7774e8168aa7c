using System.Collections.Concurrent;
using System.Net;

namespace Inlet.Smtp.Transport;

/// <summary>Counts open SMTP connections, in total and per client address.</summary>
internal sealed class SmtpConnectionLimiter(SmtpOptions options)
{
    private readonly ConcurrentDictionary<IPAddress, int> _perClient = new();
    private int _total;

    public int Open => Volatile.Read(ref _total);

    /// <summary>Takes a slot, or returns the 421 reply that refuses the connection.</summary>
    public SmtpReply? TryAcquire(IPAddress? client)
    {
        if (Interlocked.Increment(ref _total) > options.MaxConnections)
        {
            Interlocked.Decrement(ref _total);
            return SmtpReply.TooManyConnections;
        }

        if (client is not null && _perClient.AddOrUpdate(client, 1, (_, n) => n + 1) > options.MaxConnectionsPerClient)
        {
            Release(client);
            return SmtpReply.TooManyConnectionsFromClient;
        }

        return null;
    }

    public void Release(IPAddress? client)
    {
        Interlocked.Decrement(ref _total);
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
