using System.Text.Json;
using Inlet.Mail;
using Inlet.Outbound;

namespace Inlet.Management;

/// <summary>A refusal of a sending request, with SES's code; each API writes it in its own error shape.</summary>
internal sealed class SendingException(string code, string message) : Exception(message)
{
    public const string InvalidParameterValue = SesSendingException.InvalidParameterValue;
    public const string MessageRejected = SesSendingException.MessageRejected;
    public const string NotFound = SesSendingException.NotFound;
    public const string AlreadyExists = SesSendingException.AlreadyExists;

    public string Code { get; } = code;

    public static SendingException From(SesSendingException e) => new(e.Code, e.Message);
}

/// <summary>
/// SES sending as the APIs call it (v1's Query actions, SESv2's REST-JSON): sends, bounces, templates and the
/// identities senders must belong to. The checks and the queueing are <see cref="SesSending"/>'s and
/// <see cref="SendingIdentities"/>'s; their refusals come out as <see cref="SendingException"/>.
/// </summary>
internal sealed class SendingService(SesSending sending)
{
    /// <summary>SES v1's limit on a raw message (SendRawEmail).</summary>
    public const long MaxRawSizeV1 = SesSending.MaxRawSizeV1;

    /// <summary>SESv2's limit on a raw message.</summary>
    public const long MaxRawSizeV2 = SesSending.MaxRawSizeV2;

    /// <summary>Sends a composed message; answers with SES's MessageId once the message is durable.</summary>
    public Task<string> SendAsync(SesComposition composition, CancellationToken cancellationToken) =>
        RunAsync(() => sending.SendAsync(composition, cancellationToken));

    /// <summary>Sends a raw message to its headers' recipients, or to <paramref name="destinations"/> when given.</summary>
    public Task<string> SendRawAsync(byte[] raw, string? source, IReadOnlyList<string>? destinations, long maxSize, CancellationToken cancellationToken) =>
        RunAsync(() => sending.SendRawAsync(raw, source, destinations, maxSize, cancellationToken));

    public Task<string> SendBounceAsync(SesBounceRequest request, CancellationToken cancellationToken) =>
        RunAsync(() => sending.SendBounceAsync(request, cancellationToken));

    /// <summary>The address of a mailbox as SES reads it, or the refusal SES gives for text that is not one.</summary>
    public static string AddressOf(string text) => Run(() => SesSending.ParseAddress(text).Address);

    public static bool IsDomainName(string name) => SendingIdentities.IsDomainName(name);

    /// <summary>An inline template's text with its <c>{{…}}</c> tags filled from the template data.</summary>
    public static string RenderTemplate(string template, JsonElement data, bool escapeHtml) => SesTemplate.Render(template, data, escapeHtml);

    /// <summary>Every identity: those made through the API, the configuration file's, and the receipt rules' recipients.</summary>
    public IReadOnlyList<SendingIdentity> Identities() => sending.Identities.All();

    public SendingIdentity? FindIdentity(string name) => sending.Identities.Find(name);

    /// <summary>Creates an identity, or returns the one of that name the API made before.</summary>
    public Task<SendingIdentity> AddIdentityAsync(string name, bool isDomain, CancellationToken cancellationToken) =>
        RunAsync(() => sending.Identities.AddAsync(name, isDomain, cancellationToken));

    /// <summary>Deletes an identity made through the API; false when the API made none of that name.</summary>
    public Task<bool> DeleteIdentityAsync(string name, CancellationToken cancellationToken) =>
        RunAsync(() => sending.Identities.DeleteAsync(name, cancellationToken));

    private static T Run<T>(Func<T> operation) => Refusals.Translate<SesSendingException, T>(operation, SendingException.From);

    private static Task<T> RunAsync<T>(Func<Task<T>> operation) => Refusals.TranslateAsync<SesSendingException, T>(operation, SendingException.From);
}
