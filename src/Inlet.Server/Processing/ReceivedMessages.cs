using System.Collections.Concurrent;
using Inlet.Authentication;
using Inlet.Mail;
using Inlet.Outbound;
using Inlet.Smtp;
using Inlet.Storage;

namespace Inlet.Processing;

/// <summary>
/// A received message's content as actions see it: the spooled bytes as they arrived, SES's prepended headers (Return-Path,
/// Received, then the verdicts' headers once they are known) and the headers AddHeader actions appended. The pipeline,
/// the message queries, the event rebuilder and SendBounce all read a message through here, so they agree on it.
/// </summary>
internal sealed class ReceivedMessages(BlobStores blobs, SmtpOptions smtp) : IOriginalMessages
{
    /// <summary>Inline runs under way, whose messages are not recorded yet: a function that calls SendBounce for its message finds it here.</summary>
    private readonly ConcurrentDictionary<string, UnrecordedMessage> _unrecorded = new(StringComparer.Ordinal);

    public static string SpoolKey(string messageId) => messageId + ".eml";

    /// <summary>Makes a message this node is receiving inline readable before it is recorded, until the returned handle is disposed.</summary>
    public IDisposable Track(UnrecordedMessage message)
    {
        _unrecorded[message.Received.Id] = message;
        return new Untrack(this, message.Received.Id);
    }

    private sealed class Untrack(ReceivedMessages owner, string id) : IDisposable
    {
        public void Dispose() => owner._unrecorded.TryRemove(id, out _);
    }

    public MessageRecord? FindUnrecorded(string id) => _unrecorded.TryGetValue(id, out var message) ? message.Received : null;

    /// <summary>
    /// The headers SES prepends: Return-Path and Received, then, once verdicts are known, X-SES-Spam-Verdict and
    /// X-SES-Virus-Verdict (when scanning ran), Received-SPF, Authentication-Results and X-SES-RECEIPT.
    /// </summary>
    public IReadOnlyList<AddedHeader> SesHeaders(MessageRecord message, AuthenticationRecord? authentication = null) =>
    [
        new AddedHeader("Return-Path", $"<{message.MailFrom}>"),
        MessageContent.ReceivedHeader(message.ClientName ?? "unknown", message.RemoteAddress, smtp.Hostname, message.Id, message.Recipients.FirstOrDefault() ?? string.Empty, message.ReceivedAt),
        .. authentication?.Headers ?? [],
    ];

    public Task<MessageContent> LoadContentAsync(MessageRecord message, ProcessingProgress progress, CancellationToken cancellationToken) =>
        LoadContentAsync(message, progress, ct => OpenReceivedAsync(message, ct), cancellationToken);

    public Task<MessageContent> LoadContentAsync(MessageRecord message, ProcessingProgress progress, Func<CancellationToken, Task<Stream?>> openSpool, CancellationToken cancellationToken) =>
        MessageContent.LoadAsync(openSpool, SesHeaders(message, progress.Authentication), progress.AddedHeaders, cancellationToken);

    /// <summary>
    /// The spooled message for one processing run, read once: a message of up to <see cref="DatabaseSpool.InlineLimit"/>
    /// octets is kept in memory after its first read and every later reader of the run gets it from there; a larger
    /// one is streamed again for each reader (from its file, which the page cache holds), so it never sits whole in
    /// memory.
    /// </summary>
    public Func<CancellationToken, Task<Stream?>> OpenForRun(MessageRecord message)
    {
        byte[]? read = _unrecorded.TryGetValue(message.Id, out var unrecorded) ? unrecorded.Data : null;
        return async cancellationToken =>
        {
            if (Volatile.Read(ref read) is { } bytes)
            {
                return new MemoryStream(bytes, writable: false);
            }

            var stream = await OpenReceivedAsync(message, cancellationToken);
            if (stream is null || !stream.CanSeek || stream.Length > DatabaseSpool.InlineLimit)
            {
                return stream;
            }

            await using (stream)
            {
                // The embedded spool hands the message over in memory already: kept as it is, not copied.
                byte[] whole;
                if (stream is MemoryStream memory && memory.TryGetBuffer(out var buffer) && buffer is { Offset: 0, Array: { } array } && array.Length == buffer.Count)
                {
                    whole = array;
                }
                else
                {
                    whole = new byte[stream.Length];
                    await stream.ReadExactlyAsync(whole, cancellationToken);
                }

                Volatile.Write(ref read, whole);
                return new MemoryStream(whole, writable: false);
            }
        };
    }

    /// <summary>The message exactly as received, without anything SES or an action added.</summary>
    public Task<Stream?> OpenReceivedAsync(MessageRecord message, CancellationToken cancellationToken) =>
        _unrecorded.TryGetValue(message.Id, out var unrecorded) && unrecorded.Data is { } data
            ? Task.FromResult<Stream?>(new MemoryStream(data, writable: false))
            : blobs.Spool.OpenReadAsync(SmtpBackend.SpoolContainer, SpoolKey(message.Id), cancellationToken);

    /// <summary>The mail object of the message as it stands.</summary>
    public static async Task<SesMail> DescribeAsync(MessageContent content, MessageRecord message, CancellationToken cancellationToken)
    {
        var headers = SesMailBuilder.Parse(await content.ReadHeaderSectionAsync(cancellationToken));
        return SesMailBuilder.Build(headers, message.Id, message.MailFrom, message.ReceivedAt);
    }

    /// <summary>The header section as it stands; of a message still running inline here, with its run's verdicts and added headers.</summary>
    public async Task<byte[]> ReadHeaderSectionAsync(MessageRecord message, CancellationToken cancellationToken)
    {
        var progress = _unrecorded.TryGetValue(message.Id, out var unrecorded) ? unrecorded.Progress : ProcessingJsonContext.ReadProgress(message.Progress);
        var content = await LoadContentAsync(message, progress, cancellationToken);
        return await content.ReadHeaderSectionAsync(cancellationToken);
    }
}
