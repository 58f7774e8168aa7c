using System.Threading.Channels;

namespace Inlet.Processing;

/// <summary>
/// The in-memory side of the work queue: ids of durable messages waiting to be processed. The durable side is
/// the message records themselves (status <c>queued</c>), which start-up feeds back in here.
/// </summary>
internal sealed class MessageQueue
{
    private readonly Channel<string> _channel = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = false });

    public void Enqueue(string id) => _channel.Writer.TryWrite(id);

    public ChannelReader<string> Reader => _channel.Reader;

    public void Complete() => _channel.Writer.TryComplete();
}
