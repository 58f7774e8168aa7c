namespace Inlet.Smtp;

/// <summary>SMTP endpoint settings. Every limit has a default; the defaults follow RFC 5321 and SES.</summary>
internal sealed record SmtpOptions
{
    /// <summary>Address and port to listen on; port 0 picks a free port.</summary>
    public string Listen { get; init; } = "127.0.0.1:2525";

    public ProcessingMode Mode { get; init; } = ProcessingMode.Async;

    /// <summary>The name in the greeting, the EHLO reply and the Received header.</summary>
    public string Hostname { get; init; } = "inlet.localhost";

    /// <summary>Largest message accepted, in octets: SES's 40 MB (advertised with SIZE, RFC 1870).</summary>
    public long MaxMessageSize { get; init; } = 41_943_040;

    /// <summary>Recipients per message; past it RCPT gets 452 4.5.3 (RFC 5321 §4.5.3.1.8 asks for at least 100 buffered; SES-like default 50).</summary>
    public int MaxRecipients { get; init; } = 50;

    /// <summary>Longest command line with CRLF: 512 (RFC 5321 §4.5.3.1.4) plus room for the SIZE, BODY and SMTPUTF8 parameters.</summary>
    public int MaxCommandLineLength { get; init; } = 1024;

    /// <summary>Longest text line of a message with CRLF (RFC 5321 §4.5.3.1.6).</summary>
    public int MaxLineLength { get; init; } = 1000;

    /// <summary>Largest header section of a message, in octets.</summary>
    public int MaxHeaderSize { get; init; } = 262_144;

    /// <summary>
    /// How long a whole command line may take to arrive, counted from the end of the previous one (RFC 5321
    /// §4.5.3.2.7: at least 5 minutes). A deadline, not an idle timer: bytes dribbled in do not extend it.
    /// </summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long the server waits for more message data (RFC 5321 §4.5.3.2.5 gives the client 3 minutes per block).</summary>
    public TimeSpan DataTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Slowest average rate of message data (DATA, each BDAT chunk), in octets per second, once
    /// <see cref="MinDataRateGracePeriod"/> has passed; 0 turns the check off. As Kestrel's MinRequestBodyDataRate.
    /// </summary>
    public double MinDataRate { get; init; } = 240;

    /// <summary>How long message data may arrive below <see cref="MinDataRate"/> before the rate is enforced.</summary>
    public TimeSpan MinDataRateGracePeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest a session may last, however busy; past it the client gets 421 4.4.2 at its next command.</summary>
    public TimeSpan MaxSessionTime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// When every connection slot is taken, a connection that has made no progress (no completed command, no message
    /// data) for this long is closed with 421 4.4.2 to admit the new one.
    /// </summary>
    public TimeSpan ReclaimIdleAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Free space the spool's file system must keep; below it MAIL gets 452 4.3.1. 0 turns the check off.</summary>
    public long MinFreeSpace { get; init; } = 100L * 1024 * 1024;

    /// <summary>Bad commands (4xx/5xx replies to syntax or sequence errors) before the session is closed with 421.</summary>
    public int MaxBadCommands { get; init; } = 10;

    /// <summary>Open SMTP connections in total.</summary>
    public int MaxConnections { get; init; } = 1000;

    /// <summary>Open SMTP connections from one client address.</summary>
    public int MaxConnectionsPerClient { get; init; } = 50;

    /// <summary>Time budget of inline processing; past it the client gets 451 4.3.0.</summary>
    public TimeSpan InlineTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>TLS certificate for STARTTLS; when absent a self-signed one is generated into the data folder.</summary>
    public TlsOptions Tls { get; init; } = new();
}

internal sealed record TlsOptions
{
    /// <summary>A PEM certificate (with <see cref="KeyPath"/>) or a PFX/PKCS#12 file.</summary>
    public string? CertificatePath { get; init; }

    /// <summary>The PEM private key, when <see cref="CertificatePath"/> is PEM.</summary>
    public string? KeyPath { get; init; }

    /// <summary>The PFX password, when needed.</summary>
    public string? Password { get; init; }

    /// <summary>Offer STARTTLS at all.</summary>
    public bool Enabled { get; init; } = true;
}
