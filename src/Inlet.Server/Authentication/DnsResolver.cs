using System.Net;
using System.Net.Sockets;
using DnsClient;
using DnsClient.Protocol;

namespace Inlet.Authentication;

/// <summary>How a DNS query ended, in the terms SPF (RFC 7208 §4.6.4, §5) and DMARC need.</summary>
internal enum DnsStatus
{
    /// <summary>An answer with records.</summary>
    Ok,

    /// <summary>NOERROR with no records of the type (a "void lookup" in RFC 7208 §4.6.4).</summary>
    NoData,

    /// <summary>NXDOMAIN (also a void lookup).</summary>
    NameError,

    /// <summary>A timeout, SERVFAIL, or any other failure: a temporary error.</summary>
    Failed,
}

/// <summary>The records of one query, or why there are none.</summary>
internal readonly record struct DnsAnswer<T>(DnsStatus Status, IReadOnlyList<T> Records, string? Error = null)
{
    public bool IsVoid => Status is DnsStatus.NoData or DnsStatus.NameError;

    public static DnsAnswer<T> Fail(string error) => new(DnsStatus.Failed, [], error);
}

/// <summary>The few DNS queries message authentication makes.</summary>
internal interface IDnsResolver
{
    /// <summary>TXT records, each one's character-strings joined without spaces (RFC 7208 §3.3).</summary>
    Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken cancellationToken);

    /// <summary>A (IPv4) or AAAA (IPv6) records.</summary>
    Task<DnsAnswer<IPAddress>> AddressesAsync(string name, AddressFamily family, CancellationToken cancellationToken);

    /// <summary>MX exchange names, most preferred first.</summary>
    Task<DnsAnswer<string>> MxAsync(string name, CancellationToken cancellationToken);

    /// <summary>PTR names of an address.</summary>
    Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken);
}

/// <summary>
/// DNS through DnsClient's <see cref="LookupClient"/>, against the configured resolvers or the system's. Answers are
/// cached for their TTL (negative answers for a short while), every query has a timeout, and nothing blocks a thread.
/// </summary>
internal sealed class DnsResolver : IDnsResolver
{
    private readonly LookupClient _client;

    public DnsResolver(IReadOnlyList<IPEndPoint> servers, TimeSpan timeout, int retries = 1)
    {
        var options = servers.Count > 0 ? new LookupClientOptions([.. servers]) : new LookupClientOptions();
        options.UseCache = true;
        options.CacheFailedResults = true;
        options.FailedResultsCacheDuration = TimeSpan.FromSeconds(30);
        options.Timeout = timeout;
        options.Retries = retries;
        options.UseTcpFallback = true;
        options.ThrowDnsErrors = false;
        // NXDOMAIN from the first resolver is an answer, not a reason to ask the next one.
        options.ContinueOnDnsError = false;
        options.ContinueOnEmptyResponse = false;
        _client = new LookupClient(options);
    }

    public async Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken cancellationToken) =>
        await QueryAsync(name, QueryType.TXT, r => r.Answers.TxtRecords().Select(t => string.Concat(t.Text)).ToList(), cancellationToken);

    public async Task<DnsAnswer<IPAddress>> AddressesAsync(string name, AddressFamily family, CancellationToken cancellationToken) =>
        family == AddressFamily.InterNetworkV6
            ? await QueryAsync(name, QueryType.AAAA, r => r.Answers.AaaaRecords().Select(a => a.Address).ToList(), cancellationToken)
            : await QueryAsync(name, QueryType.A, r => r.Answers.ARecords().Select(a => a.Address).ToList(), cancellationToken);

    public async Task<DnsAnswer<string>> MxAsync(string name, CancellationToken cancellationToken) =>
        await QueryAsync(name, QueryType.MX, r => r.Answers.MxRecords().OrderBy(m => m.Preference).Select(m => m.Exchange.Value.TrimEnd('.')).ToList(), cancellationToken);

    public async Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken) =>
        await QueryAsync(address.GetArpaName(), QueryType.PTR, r => r.Answers.PtrRecords().Select(p => p.PtrDomainName.Value.TrimEnd('.')).ToList(), cancellationToken);

    private async Task<DnsAnswer<T>> QueryAsync<T>(string name, QueryType type, Func<IDnsQueryResponse, List<T>> select, CancellationToken cancellationToken)
    {
        IDnsQueryResponse response;
        try
        {
            response = await _client.QueryAsync(name, type, QueryClass.IN, cancellationToken);
        }
        catch (DnsResponseException e)
        {
            return DnsAnswer<T>.Fail($"{type} {name}: {e.Message}");
        }
        catch (ArgumentException e)
        {
            // Not a name DNS can carry (a label over 63 octets, say).
            return DnsAnswer<T>.Fail($"{type} {name}: {e.Message}");
        }

        if (response.HasError)
        {
            return response.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain
                ? new DnsAnswer<T>(DnsStatus.NameError, [])
                : DnsAnswer<T>.Fail($"{type} {name}: {response.ErrorMessage}");
        }

        var records = select(response);
        return records.Count == 0 ? new DnsAnswer<T>(DnsStatus.NoData, []) : new DnsAnswer<T>(DnsStatus.Ok, records);
    }
}
