using Inlet.Storage;

namespace Inlet.Outbound;

/// <summary>
/// The header section of a message Inlet received, as its actions saw it — what a DSN quotes (RFC 3464 §2.1). Processing
/// provides it; Outbound only reads through it.
/// </summary>
internal interface IOriginalMessages
{
    /// <exception cref="FileNotFoundException">The message's content is no longer stored.</exception>
    Task<byte[]> ReadHeaderSectionAsync(MessageRecord message, CancellationToken cancellationToken);

    /// <summary>A message this node is receiving inline, whose record is written only when its run ends.</summary>
    MessageRecord? FindUnrecorded(string id);
}
