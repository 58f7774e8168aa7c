using Inlet.Mail;

namespace Inlet.Authentication;

/// <summary>The verdicts of one message, as the receipt object reports them.</summary>
internal sealed record Verdicts(SesVerdict Spam, SesVerdict Virus, SesVerdict Spf, SesVerdict Dkim, SesVerdict Dmarc, string? DmarcPolicy)
{
    /// <summary>
    /// For an event rebuilt before the message was processed: nothing was checked yet, which SES's statuses can only
    /// say as PROCESSING_FAILED (and DISABLED for scanning).
    /// </summary>
    public static Verdicts NotComputed { get; } = new(SesVerdict.Disabled, SesVerdict.Disabled, SesVerdict.ProcessingFailed, SesVerdict.ProcessingFailed, SesVerdict.ProcessingFailed, null);

    /// <summary>The verdicts for a rule without ScanEnabled: spam and virus were not its business (SES says DISABLED).</summary>
    public Verdicts WithoutScan() => this with { Spam = SesVerdict.Disabled, Virus = SesVerdict.Disabled };

    /// <summary>RFC 7208 results in SES's terms (docs/compatibility.md, "Verdicts").</summary>
    public static SesVerdict ForSpf(SpfResult result) => result switch
    {
        SpfResult.Pass => SesVerdict.Pass,
        SpfResult.Fail or SpfResult.SoftFail => SesVerdict.Fail,
        SpfResult.None or SpfResult.Neutral => SesVerdict.Gray,
        _ => SesVerdict.ProcessingFailed,
    };

    /// <summary>
    /// PASS needs a good signature whose <c>d=</c> is the From domain itself: SES reports GRAY for a message whose only
    /// good signature is a third party's, even a subdomain's (ses-receiving.md §4.4). Unsigned is GRAY.
    /// </summary>
    public static SesVerdict ForDkim(IReadOnlyList<DkimSignatureResult> signatures, string? fromDomain)
    {
        if (signatures.Count == 0)
        {
            return SesVerdict.Gray;
        }

        if (signatures.Any(s => s.Result == DkimResult.Pass && fromDomain is not null && s.Domain.TrimEnd('.').Equals(fromDomain, StringComparison.OrdinalIgnoreCase)))
        {
            return SesVerdict.Pass;
        }

        if (signatures.Any(s => s.Result == DkimResult.TempError))
        {
            return SesVerdict.ProcessingFailed;
        }

        return signatures.Any(s => s.Result is DkimResult.Fail or DkimResult.PermError) ? SesVerdict.Fail : SesVerdict.Gray;
    }

    public static SesVerdict ForDmarc(DmarcResult result) => result switch
    {
        DmarcResult.Pass => SesVerdict.Pass,
        DmarcResult.Fail => SesVerdict.Fail,
        DmarcResult.None => SesVerdict.Gray,
        _ => SesVerdict.ProcessingFailed,
    };
}

/// <summary>
/// What authentication decided for a message, kept with its processing state: the verdicts and the headers SES
/// prepends for them. Computed once, from the message as received; a retry or a restart reads it back.
/// </summary>
internal sealed record AuthenticationRecord(Verdicts Verdicts, IReadOnlyList<AddedHeader> Headers, IReadOnlyList<string> Notes);
