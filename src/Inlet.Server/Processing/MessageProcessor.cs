using System.Collections.Concurrent;
using Inlet.Smtp;
using Inlet.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Inlet.Processing;

/// <summary>
/// Works through accepted messages after their 250 (async mode): runs the pipeline for each, and brings back
/// retrying messages when they are due. At start it picks up every message that was acknowledged but not finished
/// before the last stop or crash; a message caught in inline processing by a crash was never acknowledged, so it is
/// marked rejected instead.
/// </summary>
internal sealed partial class MessageProcessor(
    MessageQueue queue,
    IStateStore state,
    MessagePipeline pipeline,
    ProcessingOptions options,
    TimeProvider time,
    ILogger<MessageProcessor> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, byte> _inFlight = new();
    private readonly PriorityQueue<string, DateTimeOffset> _scheduled = new();
    private readonly SemaphoreSlim _scheduleChanged = new(0);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var message in await state.ListUnfinishedAsync(stoppingToken))
        {
            if (message.Status == MessageStatus.Inline)
            {
                await pipeline.RejectAsync(message, "the server stopped during inline processing, before the client was answered; the message was never acknowledged", stoppingToken);
            }
            else if (message.Status == MessageStatus.Retrying && message.NextAttemptAt is { } due)
            {
                Schedule(message.Id, due);
            }
            else
            {
                LogRecovered(logger, message.Id);
                queue.Enqueue(message.Id);
            }
        }

        var workers = Enumerable.Range(0, options.Workers).Select(_ => WorkAsync(stoppingToken)).Append(TimerAsync(stoppingToken));
        await Task.WhenAll(workers);
    }

    /// <summary>Brings a message back when it is due.</summary>
    public void Schedule(string id, DateTimeOffset due)
    {
        lock (_scheduled)
        {
            _scheduled.Enqueue(id, due);
        }

        _scheduleChanged.Release();
    }

    private async Task TimerAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                TimeSpan wait;
                lock (_scheduled)
                {
                    var now = time.GetUtcNow();
                    while (_scheduled.TryPeek(out var id, out var due) && due <= now)
                    {
                        _scheduled.Dequeue();
                        queue.Enqueue(id);
                    }

                    wait = _scheduled.TryPeek(out _, out var next) ? next - now : Timeout.InfiniteTimeSpan;
                }

                await _scheduleChanged.WaitAsync(wait, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: scheduled retries are durable (status retrying, next_attempt_at) and come back at the next start.
        }
    }

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var id in queue.Reader.ReadAllAsync(stoppingToken))
            {
                if (!_inFlight.TryAdd(id, 0))
                {
                    // Already being processed (a replay raced with a run): look again shortly.
                    Schedule(id, time.GetUtcNow().AddSeconds(1));
                    continue;
                }

                try
                {
                    await ProcessAsync(id, stoppingToken);
                }
                finally
                {
                    _inFlight.TryRemove(id, out _);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: whatever is still queued stays durable and is picked up at the next start.
        }
    }

    private async Task ProcessAsync(string id, CancellationToken stoppingToken)
    {
        try
        {
            var record = await state.GetMessageAsync(id, stoppingToken);
            if (record is null || !MessageStatus.IsUnfinished(record.Status))
            {
                return;
            }

            var result = await pipeline.RunAsync(record, ProcessingMode.Async, stoppingToken);
            if (result.RetryAt is { } due)
            {
                Schedule(id, due);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            // Not an action failure (those are retried inside the pipeline) but the pipeline itself: the spool or
            // the state store. The message stays unfinished and is tried again later.
            LogProcessingFailed(logger, id, e);
            Schedule(id, time.GetUtcNow() + options.RetryInitialDelay);
        }
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Message {Id} was accepted before the last stop and is processed now")]
    private static partial void LogRecovered(ILogger logger, string id);

    [LoggerMessage(EventId = 201, Level = LogLevel.Error, Message = "Message {Id} could not be processed; it will be tried again")]
    private static partial void LogProcessingFailed(ILogger logger, string id, Exception exception);
}
