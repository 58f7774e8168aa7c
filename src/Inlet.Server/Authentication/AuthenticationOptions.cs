using System.Collections.Immutable;
using System.Net;

namespace Inlet.Authentication;

/// <summary>Where verdicts come from: the DNS resolvers, the scanners, the Public Suffix List. Everything is optional.</summary>
internal sealed record AuthenticationOptions
{
    /// <summary>Resolvers for SPF, DKIM and DMARC; empty means the system's (/etc/resolv.conf).</summary>
    public ImmutableArray<IPEndPoint> DnsServers { get; init; } = [];

    /// <summary>spamd (SPAMC/1.5), <c>host:port</c> or a unix socket path; none by default.</summary>
    public string? Spamd { get; init; }

    /// <summary>A spamd score at or above this gives spamVerdict FAIL (SpamAssassin's own default is 5.0).</summary>
    public double SpamThreshold { get; init; } = 5.0;

    /// <summary>clamd (zINSTREAM), <c>host:port</c> or a unix socket path; none by default.</summary>
    public string? Clamd { get; init; }

    /// <summary>The Public Suffix List file for DMARC's organizational domains; a small built-in list when it is missing.</summary>
    public string PublicSuffixList { get; init; } = Authentication.PublicSuffixList.DefaultPath;

    /// <summary>One DNS query's timeout (DnsClient retries once more before it is a temperror).</summary>
    public TimeSpan DnsTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// All of one message's checks together; what is unfinished then is PROCESSING_FAILED. RFC 7208 §4.6.4 asks for
    /// at least 20 seconds for SPF; the scanners run at the same time.
    /// </summary>
    public TimeSpan Budget { get; init; } = TimeSpan.FromSeconds(30);
}
