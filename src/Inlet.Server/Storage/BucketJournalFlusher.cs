using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Inlet.Storage;

/// <summary>
/// Flushes the journaled bucket store every <see cref="StateOptions.BucketFlushInterval"/>, and once more when the
/// node stops, so that a clean stop leaves the journal empty.
/// </summary>
internal sealed partial class BucketJournalFlusher(JournaledBucketStore buckets, StateOptions options, ILogger<BucketJournalFlusher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.BucketFlushInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await FlushAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The stop ran out of time: the journal keeps its entries, and the next start replays them.
        }
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            await buckets.FlushAsync(cancellationToken);
        }
        catch (Exception e) when (e is IOException or System.Data.Common.DbException or InvalidOperationException)
        {
            // The journal keeps every entry it was not told to drop: the next flush tries again, and nothing is lost.
            LogFlushFailed(logger, e);
        }
    }

    [LoggerMessage(EventId = 1250, Level = LogLevel.Warning, Message = "The bucket objects' journal could not be flushed; it keeps its entries and is tried again")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception);
}
