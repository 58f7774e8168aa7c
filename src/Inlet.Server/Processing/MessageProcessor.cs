using Inlet.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace Inlet.Processing;

/// <summary>
/// Works through the queue of accepted messages after their 250: reads each one's headers from the spool and
/// records it as received. Messages that were acknowledged but not finished before a stop or a crash are fed in
/// again at start.
/// </summary>
internal sealed partial class MessageProcessor(MessageQueue queue, IStateStore state, IBlobStore spool, ILogger<MessageProcessor> logger) : BackgroundService
{
    private const int Workers = 2;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var message in await state.ListUnfinishedAsync(stoppingToken))
        {
            LogRecovered(logger, message.Id);
            queue.Enqueue(message.Id);
        }

        var workers = Enumerable.Range(0, Workers).Select(_ => WorkAsync(stoppingToken));
        await Task.WhenAll(workers);
    }

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var id in queue.Reader.ReadAllAsync(stoppingToken))
            {
                await ProcessAsync(id, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: whatever is still queued stays durable and is picked up at the next start.
        }
    }

    internal async Task ProcessAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            var record = await state.GetMessageAsync(id, cancellationToken);
            if (record is null || record.Status != MessageStatus.Queued)
            {
                return;
            }

            string? subject = null;
            await using (var stream = await spool.OpenReadAsync(SmtpBackend.SpoolContainer, id + ".eml", cancellationToken))
            {
                if (stream is not null)
                {
                    var headers = await HeaderList.LoadAsync(ParserOptions.Default, stream, cancellationToken);
                    subject = headers[HeaderId.Subject];
                }
            }

            await state.UpdateMessageAsync(id, MessageStatus.Received, subject, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogProcessingFailed(logger, id, e);
        }
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Message {Id} was accepted before the last stop and is processed now")]
    private static partial void LogRecovered(ILogger logger, string id);

    [LoggerMessage(EventId = 201, Level = LogLevel.Error, Message = "Message {Id} could not be processed")]
    private static partial void LogProcessingFailed(ILogger logger, string id, Exception exception);
}
