using System.Threading.Channels;
using Inlet.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Inlet.WebConsole;

/// <summary>
/// New and changed messages for the console's live views. While a console is connected, the store is asked every
/// <see cref="Interval"/> which messages changed since the last look (an index on <c>updated_at</c> answers it), so
/// that a message received or processed by any node sharing the store shows up, not only this node's.
/// </summary>
internal sealed partial class MessageFeed(IMessageStore state, ILogger<MessageFeed> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// How far back each look reaches again: a change is stamped before its transaction commits, so a look can
    /// miss a change that commits after it with an earlier stamp; the next looks still see it.
    /// </summary>
    private static readonly TimeSpan s_overlap = TimeSpan.FromSeconds(2);

    private readonly List<Channel<MessageRecord>> _subscribers = [];
    private readonly SemaphoreSlim _someone = new(0);
    private readonly object _gate = new();

    /// <summary>Changed messages from now on, until cancelled; a slow reader loses the oldest.</summary>
    public ChannelReader<MessageRecord> Subscribe(CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<MessageRecord>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest });
        lock (_gate)
        {
            _subscribers.Add(channel);
            if (_subscribers.Count == 1)
            {
                _someone.Release();
            }
        }

        cancellationToken.Register(() =>
        {
            lock (_gate)
            {
                _subscribers.Remove(channel);
            }

            channel.Writer.TryComplete();
        });
        return channel.Reader;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // What each look has already reported: a message id and the change it was at.
        var seen = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        var since = DateTimeOffset.UtcNow;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                Channel<MessageRecord>[] subscribers;
                lock (_gate)
                {
                    subscribers = [.. _subscribers];
                }

                if (subscribers.Length == 0)
                {
                    await _someone.WaitAsync(stoppingToken);
                    since = DateTimeOffset.UtcNow - s_overlap;
                    continue;
                }

                try
                {
                    var changed = await state.ListUpdatedSinceAsync(since - s_overlap, 500, stoppingToken);
                    foreach (var message in changed)
                    {
                        if (seen.TryGetValue(message.Id, out var at) && at >= message.UpdatedAt)
                        {
                            continue;
                        }

                        seen[message.Id] = message.UpdatedAt;
                        foreach (var subscriber in subscribers)
                        {
                            subscriber.Writer.TryWrite(message);
                        }
                    }

                    if (changed.Count > 0)
                    {
                        since = changed[^1].UpdatedAt > since ? changed[^1].UpdatedAt : since;
                    }

                    var forget = since - s_overlap - s_overlap;
                    foreach (var id in seen.Where(p => p.Value < forget).Select(p => p.Key).ToList())
                    {
                        seen.Remove(id);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogLookFailed(logger, e);
                }

                await Task.Delay(Interval, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The server stops.
        }
    }

    public override void Dispose()
    {
        _someone.Dispose();
        base.Dispose();
    }

    [LoggerMessage(EventId = 1100, Level = LogLevel.Warning, Message = "The console's message feed could not read the store")]
    private static partial void LogLookFailed(ILogger logger, Exception exception);
}
