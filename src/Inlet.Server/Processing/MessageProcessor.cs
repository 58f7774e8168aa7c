using Inlet.Core;
using Inlet.Smtp;
using Inlet.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Inlet.Processing;

/// <summary>
/// Works through accepted messages after their 250 (async mode): claims the messages that are due from the message
/// work queue — new ones, retries whose time has come, and those a stopped or dead node left unfinished — and runs
/// the pipeline for each. A message caught in inline processing by a crash was never acknowledged, so it is marked
/// rejected instead.
/// </summary>
internal sealed partial class MessageProcessor(
    IMessageStore state,
    MessagePipeline pipeline,
    ProcessingOptions options,
    StateOptions leases,
    TimeProvider time,
    ILogger<MessageProcessor> logger) : BackgroundService
{
    private DueWorkLoop<MessageRecord>? _dueLoop;

    private DueWorkLoop<MessageRecord> Loop => _dueLoop ??= new DueWorkLoop<MessageRecord>(
        "Messages", state.MessageQueue, m => m.Id, ProcessAsync, options.Workers, leases.Lease, time, logger);

    /// <summary>A message was queued (accepted or replayed): claim it now rather than at the next look.</summary>
    public void Wake() => Loop.Wake();

    /// <summary>The lease of a message this node processes.</summary>
    public TimeSpan Lease => Loop.Lease;

    /// <summary>
    /// A slot for a message accepted on this node, to be recorded leased to it (<see cref="Lease"/>) and processed at
    /// once, without a claim — the claim was a transaction of its own per message. False while processing is full
    /// or older messages wait; the message is then queued as usual.
    /// </summary>
    public bool TryReserve() => Loop.TryReserve();

    /// <summary>Processes a reserved message, now recorded.</summary>
    public void Start(MessageRecord message) => Loop.Start(message);

    public void Unreserve() => Loop.Unreserve();

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Loop.RunAsync(stoppingToken);

    private async Task<LeaseAfterRun> ProcessAsync(MessageRecord message, CancellationToken stoppingToken)
    {
        // Inline messages are recorded only once their run has ended; a record still "inline" was written by an
        // earlier version, which recorded them on arrival, and its run was cut short by a stop.
        if (message.Status == MessageStatus.Inline)
        {
            await pipeline.RejectAsync(message, "the server stopped during inline processing, before the client was answered; the message was never acknowledged", stoppingToken);
            return LeaseAfterRun.GivenUp;
        }

        if (message.Status == MessageStatus.Processing)
        {
            LogRecovered(logger, message.Id);
        }

        // Retries come back through the queue: the pipeline records when the message is due again.
        var result = await pipeline.RunAsync(message, ProcessingMode.Async, stoppingToken);
        if (result.Status == MessageStatus.Retrying)
        {
            // Due again later: the loop learns when.
            Wake();
        }

        return MessageUpdate.EndsRun(result.Status) ? LeaseAfterRun.GivenUp : LeaseAfterRun.Held;
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Message {Id} was being processed when its node stopped; it is processed now")]
    private static partial void LogRecovered(ILogger logger, string id);
}
