namespace Inlet.Authentication;

/// <summary>DMARC results (RFC 7489 §11.2, the Authentication-Results names).</summary>
internal enum DmarcResult
{
    /// <summary>No DMARC record for the From domain or its organizational domain.</summary>
    None,
    Pass,
    Fail,
    TempError,
    PermError,
}

/// <summary>
/// The DMARC outcome: the result, the From domain, and when it failed, the policy to apply (<c>none</c>,
/// <c>quarantine</c>, <c>reject</c>) after <c>sp</c> and <c>pct</c>, as SES's <c>dmarcPolicy</c>.
/// </summary>
internal sealed record DmarcOutcome(DmarcResult Result, string? FromDomain, string? Policy, string Reason);

/// <summary>
/// DMARC per RFC 7489: the record of the From domain, else of its organizational domain (§6.6.3); identifier alignment
/// in relaxed or strict mode for SPF (<c>aspf</c>) and DKIM (<c>adkim</c>) (§3.1); <c>p</c>, <c>sp</c> and <c>pct</c>.
/// </summary>
internal sealed class DmarcEvaluator(IDnsResolver dns, PublicSuffixList suffixes)
{
    /// <param name="fromDomain">The RFC 5322.From domain; null when the message has no single From address.</param>
    /// <param name="spfDomain">The domain SPF checked (MAIL FROM, or HELO for the null sender).</param>
    /// <param name="sampleKey">Picks deterministically whether this message falls inside <c>pct</c> (its id), so a retry decides alike.</param>
    public async Task<DmarcOutcome> EvaluateAsync(string? fromDomain, SpfResult spf, string? spfDomain, IReadOnlyList<DkimSignatureResult> dkim, string sampleKey, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(fromDomain) || !SpfEvaluator.IsValidDomain(fromDomain))
        {
            return new DmarcOutcome(DmarcResult.None, fromDomain, null, "the message has no single From domain");
        }

        fromDomain = fromDomain.TrimEnd('.').ToLowerInvariant();
        var organizational = suffixes.OrganizationalDomain(fromDomain);
        var (record, atOrganizational, error) = await FindRecordAsync(fromDomain, organizational, cancellationToken);
        if (error is not null)
        {
            return new DmarcOutcome(DmarcResult.TempError, fromDomain, null, error);
        }

        if (record is null)
        {
            return new DmarcOutcome(DmarcResult.None, fromDomain, null, $"no DMARC record for {fromDomain} or {organizational}");
        }

        var spfAligned = spf == SpfResult.Pass && spfDomain is not null && Aligned(spfDomain, fromDomain, record.StrictSpf);
        var dkimAligned = dkim.FirstOrDefault(d => d.Result == DkimResult.Pass && Aligned(d.Domain, fromDomain, record.StrictDkim));
        if (spfAligned || dkimAligned is not null)
        {
            return new DmarcOutcome(DmarcResult.Pass, fromDomain, null, spfAligned ? $"SPF passed for {spfDomain}, aligned" : $"DKIM passed for d={dkimAligned!.Domain}, aligned");
        }

        // A temporary error that could have produced an aligned pass leaves the outcome unknown, not failed.
        if (spf == SpfResult.TempError || dkim.Any(d => d.Result == DkimResult.TempError))
        {
            return new DmarcOutcome(DmarcResult.TempError, fromDomain, null, "no aligned pass, and SPF or DKIM had a temporary DNS error");
        }

        // §6.3: sp applies to subdomains when the record is the organizational domain's.
        var policy = atOrganizational && record.SubdomainPolicy is { } sp ? sp : record.Policy;
        // §6.6.4: a message outside the pct sample gets the next less strict policy.
        if (record.Percent < 100 && Sample(sampleKey) >= record.Percent)
        {
            policy = policy switch { "reject" => "quarantine", _ => "none" };
        }

        return new DmarcOutcome(DmarcResult.Fail, fromDomain, policy, "neither SPF nor DKIM passed aligned with the From domain");
    }

    private bool Aligned(string domain, string fromDomain, bool strict)
    {
        domain = domain.TrimEnd('.');
        return strict
            ? domain.Equals(fromDomain, StringComparison.OrdinalIgnoreCase)
            : suffixes.OrganizationalDomain(domain).Equals(suffixes.OrganizationalDomain(fromDomain), StringComparison.OrdinalIgnoreCase);
    }

    private static int Sample(string key)
    {
        // FNV-1a: stable across runs and processes (string.GetHashCode is not).
        var hash = 2166136261u;
        foreach (var c in key)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash % 100);
    }

    internal sealed record DmarcRecord(string Policy, string? SubdomainPolicy, bool StrictSpf, bool StrictDkim, int Percent);

    private async Task<(DmarcRecord? Record, bool AtOrganizational, string? Error)> FindRecordAsync(string fromDomain, string organizational, CancellationToken cancellationToken)
    {
        var answer = await dns.TxtAsync("_dmarc." + fromDomain, cancellationToken);
        if (answer.Status == DnsStatus.Failed)
        {
            return (null, false, $"DNS error looking up _dmarc.{fromDomain}: {answer.Error}");
        }

        if (Select(answer.Records) is { } record)
        {
            return (record, fromDomain == organizational, null);
        }

        if (organizational == fromDomain)
        {
            return (null, false, null);
        }

        answer = await dns.TxtAsync("_dmarc." + organizational, cancellationToken);
        return answer.Status == DnsStatus.Failed
            ? (null, false, $"DNS error looking up _dmarc.{organizational}: {answer.Error}")
            : (Select(answer.Records), true, null);
    }

    /// <summary>§6.6.3: exactly one record starting <c>v=DMARC1</c>, else none.</summary>
    private static DmarcRecord? Select(IReadOnlyList<string> records)
    {
        var candidates = records.Where(r => r.TrimStart().StartsWith("v=DMARC1", StringComparison.Ordinal)).ToList();
        return candidates.Count == 1 ? Parse(candidates[0]) : null;
    }

    /// <summary>§6.3 tags; a record whose <c>p</c> is missing or unknown is not a usable record (§6.6.3 step 6).</summary>
    internal static DmarcRecord? Parse(string text)
    {
        var tags = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var parts = text.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        foreach (var part in parts)
        {
            var eq = part.IndexOf('=');
            if (eq > 0)
            {
                tags.TryAdd(part[..eq].Trim(), part[(eq + 1)..].Trim());
            }
        }

        if (parts.Length == 0 || !parts[0].Replace(" ", string.Empty, StringComparison.Ordinal).Equals("v=DMARC1", StringComparison.Ordinal))
        {
            return null;
        }

        static string? PolicyOf(string? value) => value?.ToLowerInvariant() is "none" or "quarantine" or "reject" ? value.ToLowerInvariant() : null;

        var policy = PolicyOf(tags.GetValueOrDefault("p"));
        if (policy is null)
        {
            return null;
        }

        var percent = int.TryParse(tags.GetValueOrDefault("pct", "100"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) ? Math.Clamp(p, 0, 100) : 100;
        return new DmarcRecord(
            policy,
            PolicyOf(tags.GetValueOrDefault("sp")),
            tags.GetValueOrDefault("aspf", "r").Equals("s", StringComparison.OrdinalIgnoreCase),
            tags.GetValueOrDefault("adkim", "r").Equals("s", StringComparison.OrdinalIgnoreCase),
            percent);
    }
}
