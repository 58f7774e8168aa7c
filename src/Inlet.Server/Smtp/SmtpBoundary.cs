using System.Net;

namespace Inlet.Smtp;

/// <summary>What the session knows about its client when it asks the boundary for a decision.</summary>
internal sealed record SmtpClientInfo(IPEndPoint? RemoteEndPoint, string? ClientName, bool IsSecure);

/// <summary>A finished envelope: everything the spool records besides the message itself.</summary>
internal sealed record SmtpEnvelope(
    string MailFrom,
    IReadOnlyList<string> Recipients,
    IPEndPoint? RemoteEndPoint,
    string? ClientName,
    bool IsSecure,
    string? TlsProtocol,
    bool SmtpUtf8,
    string BodyType,
    DateTimeOffset ReceivedAt,
    ISmtpTransaction Transaction);

/// <summary>
/// The one boundary between the SMTP protocol and the rest of Inlet. SMTP asks it whether a client and each
/// recipient are acceptable and hands it the message as a stream; it knows nothing of rules, functions or
/// storage.
/// </summary>
internal interface ISmtpBackend
{
    /// <summary>At connect: null to accept the client, or the reply that refuses it.</summary>
    SmtpReply? CheckClient(IPEndPoint? remote);

    /// <summary>At MAIL: the transaction that judges its recipients, and whose view of the rules its message keeps.</summary>
    ISmtpTransaction BeginTransaction();

    /// <summary>At MAIL: null when there is room for a message, or the 452 that defers it (RFC 5321 §4.5.3.1.10).</summary>
    SmtpReply? CheckStorage() => null;

    /// <summary>At DATA or the first BDAT: opens a spool entry to stream the message into.</summary>
    ValueTask<ISmtpMessageWriter> BeginMessageAsync(CancellationToken cancellationToken);
}

/// <summary>
/// One mail transaction (MAIL to the end of DATA or BDAT LAST). Every recipient is judged, and the message is recorded,
/// under the one view of the configuration that the backend took at MAIL.
/// </summary>
internal interface ISmtpTransaction
{
    /// <summary>At RCPT: null to accept the recipient, or the reply that refuses it.</summary>
    SmtpReply? CheckRecipient(string address, SmtpClientInfo client);
}

/// <summary>One message being received. Disposing it without a commit discards it.</summary>
internal interface ISmtpMessageWriter : IAsyncDisposable
{
    ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>
    /// Makes the message durable and returns the final reply. The reply is positive only once the message and its
    /// queue record are on disk.
    /// </summary>
    ValueTask<SmtpReply> CommitAsync(SmtpEnvelope envelope, CancellationToken cancellationToken);
}
