using Inlet.Mail;
using MimeKit;

namespace Inlet.Authentication;

/// <summary>The verdicts of one message, as the receipt object reports them.</summary>
internal sealed record Verdicts(SesVerdict Spam, SesVerdict Virus, SesVerdict Spf, SesVerdict Dkim, SesVerdict Dmarc, string? DmarcPolicy)
{
    /// <summary>
    /// What Inlet can state today without making anything up: spam and virus scanning are not offered, so they
    /// are DISABLED (as SES reports them when scanning is off); DKIM is GRAY for a message with no signature
    /// (that is what GRAY means) and PROCESSING_FAILED for a signed one, whose signature is not checked yet; SPF
    /// and DMARC are not evaluated yet, so PROCESSING_FAILED. Never a PASS that was not earned.
    /// </summary>
    public static Verdicts Compute(HeaderList headers) => new(
        SesVerdict.Disabled,
        SesVerdict.Disabled,
        SesVerdict.ProcessingFailed,
        headers.Contains(HeaderId.DkimSignature) ? SesVerdict.ProcessingFailed : SesVerdict.Gray,
        SesVerdict.ProcessingFailed,
        DmarcPolicy: null);
}
