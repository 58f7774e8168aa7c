using Inlet.Storage;

namespace Inlet.Processing;

/// <summary>
/// A message received in inline mode, whose record is written once, when its run ends, with its outcome: the client
/// has not been answered before that, so nothing needs to be on disk earlier, and a small message's data shares that
/// one commit (where the data with the record, then the end, were two). Until then only this node knows of it.
/// </summary>
internal sealed class UnrecordedMessage(MessageRecord received, byte[]? data, Func<MessageRecord, Task> record)
{
    private const int NotRecorded = 0, Recording = 1, Recorded = 2;

    private int _state;

    /// <summary>The record as received: envelope, size, configuration version.</summary>
    public MessageRecord Received { get; } = received;

    /// <summary>The message's bytes, while they are only in memory (a small message); null once they are in the spool.</summary>
    public byte[]? Data { get; } = data;

    /// <summary>The run's trace as it stands, so that a run cut short is recorded with what it did.</summary>
    public List<TraceEntry> Trace { get; set; } = [];

    /// <summary>
    /// The run's progress as it stands (its verdicts, the headers its actions added): what this node's other readers
    /// of the message, a SendBounce from its own function say, see of it before it is recorded.
    /// </summary>
    public ProcessingProgress Progress { get; set; } = new();

    public bool IsRecorded => Volatile.Read(ref _state) == Recorded;

    /// <summary>
    /// Writes the message's record (and its data, if it is in memory) and returns once it is durable; once. A write
    /// that failed leaves it unrecorded, for the rejection to try again. Never cancelled half-way: what the client
    /// is answered after depends on it.
    /// </summary>
    public async Task RecordAsync(MessageRecord final)
    {
        if (Interlocked.CompareExchange(ref _state, Recording, NotRecorded) != NotRecorded)
        {
            throw new InvalidOperationException($"Message {final.Id} is recorded already.");
        }

        try
        {
            await record(final);
            Volatile.Write(ref _state, Recorded);
        }
        catch
        {
            Volatile.Write(ref _state, NotRecorded);
            throw;
        }
    }
}
