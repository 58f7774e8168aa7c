namespace Inlet.Outbound;

/// <summary>
/// Where outgoing messages (bounces, and mail sent through the SES sending APIs) go: an SMTP relay, or — when
/// <see cref="Host"/> is not set — the outbox, which the API and CLI list.
/// </summary>
internal sealed record OutboundOptions
{
    public string? Host { get; init; }

    public int Port { get; init; } = 25;

    /// <summary><c>None</c>, <c>StartTls</c>, <c>StartTlsWhenAvailable</c> or <c>SslOnConnect</c>.</summary>
    public string Security { get; init; } = "StartTlsWhenAvailable";

    public string? Username { get; init; }

    public string? Password { get; init; }

    /// <summary>Accept any relay certificate (for a relay with a self-signed certificate on a private network).</summary>
    public bool AcceptAnyCertificate { get; init; }

    /// <summary>The wait before the first retry after a temporary failure; it doubles with each attempt, up to an hour.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMinutes(1);
}
