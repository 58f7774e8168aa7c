using System.Net;
using System.Text;
using Inlet.Mail;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace Inlet.Authentication;

/// <summary>The envelope facts authentication looks at.</summary>
internal sealed record Envelope(string MessageId, string MailFrom, string? ClientAddress, string? Helo);

/// <summary>
/// Computes a message's verdicts — SPF, DKIM, DMARC always, spam and virus when a rule that applies has ScanEnabled —
/// and the headers SES prepends for them, all within one time budget. Runs in processing, never in the SMTP session;
/// each message's checks wait only on their own DNS answers and scanners.
/// </summary>
internal sealed partial class MessageAuthenticator
{
    private readonly AuthenticationOptions _options;
    private readonly string _authservId;
    private readonly SpfEvaluator _spf;
    private readonly DkimEvaluator _dkim;
    private readonly DmarcEvaluator _dmarc;
    private readonly SpamdClient? _spamd;
    private readonly ClamdClient? _clamd;
    private readonly ILogger _logger;
    private int _notConfiguredLogged;

    public MessageAuthenticator(AuthenticationOptions options, IDnsResolver dns, PublicSuffixList suffixes, string authservId, ILogger<MessageAuthenticator> logger)
    {
        _options = options;
        _authservId = authservId;
        _logger = logger;
        _spf = new SpfEvaluator(dns);
        _dkim = new DkimEvaluator(dns);
        _dmarc = new DmarcEvaluator(dns, suffixes);
        if (options.Spamd is { } spamd && ScannerEndPoint.TryParse(spamd, out var spamdEndPoint))
        {
            _spamd = new SpamdClient(spamdEndPoint!, options.SpamThreshold);
        }

        if (options.Clamd is { } clamd && ScannerEndPoint.TryParse(clamd, out var clamdEndPoint))
        {
            _clamd = new ClamdClient(clamdEndPoint!);
        }

        Suffixes = suffixes;
    }

    public PublicSuffixList Suffixes { get; }

    /// <param name="openMessage">Opens the message as received (without SES's headers).</param>
    /// <param name="scan">Whether any applicable rule has ScanEnabled.</param>
    public async Task<AuthenticationRecord> AuthenticateAsync(Envelope envelope, Func<CancellationToken, Task<Stream?>> openMessage, bool scan, CancellationToken cancellationToken)
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(_options.Budget);
        var token = budget.Token;
        var notes = new List<string>();

        var ip = IPAddress.TryParse(envelope.ClientAddress, out var parsed) ? parsed : null;
        var helo = envelope.Helo ?? string.Empty;
        var spfTask = ip is null
            ? Task.FromResult(new SpfOutcome(SpfResult.None, "the client's address is not known"))
            : Guard(() => _spf.CheckAsync(ip, envelope.MailFrom, helo, token), e => new SpfOutcome(SpfResult.TempError, e), cancellationToken);

        var spamTask = scan ? ScanSpamAsync(openMessage, token, cancellationToken) : Task.FromResult(new ScanOutcome(SesVerdict.Disabled, "scanning is off for every rule that applies"));
        var virusTask = scan ? ScanVirusAsync(openMessage, token, cancellationToken) : Task.FromResult(new ScanOutcome(SesVerdict.Disabled, "scanning is off for every rule that applies"));

        string? fromDomain = null;
        IReadOnlyList<DkimSignatureResult> dkim = [];
        // Reading the message is local work, not what the budget bounds (DNS and the scanners): a budget spent while
        // it is read must not fail the message, so the read is bounded by processing alone.
        async Task<Stream> OpenAsync() => await openMessage(cancellationToken) ?? throw new FileNotFoundException("The received message is missing from the spool.");
        var stream = await OpenAsync();
        try
        {
            // The header section first: it names the author, and a message without a DKIM-Signature (most of them)
            // needs nothing more, so its body is never parsed into MIME parts.
            HeaderList? headers;
            try
            {
                headers = await HeaderList.LoadAsync(ParserOptions.Default, stream, cancellationToken);
            }
            catch (FormatException)
            {
                // A message whose first line is not a header field: it has no author and no signature to check, and
                // failing here would retry it for hours.
                headers = null;
                notes.Add("the message has no header section MimeKit can read: no From domain, no DKIM signature");
            }

            if (headers is not null)
            {
                // A message made of the header section alone parses From exactly as the whole message would.
                var domains = new MimeMessage(headers).From.Mailboxes.Select(m => m.Domain.ToLowerInvariant()).Distinct().ToList();
                // RFC 7489 §6.6.1: DMARC needs exactly one author domain.
                fromDomain = domains.Count == 1 && domains[0].Length > 0 ? domains[0] : null;
            }

            if (headers is not null && headers.Contains(HeaderId.DkimSignature))
            {
                if (stream.CanSeek)
                {
                    stream.Position = 0;
                }
                else
                {
                    await stream.DisposeAsync();
                    stream = await OpenAsync();
                }

                var message = await MimeMessage.LoadAsync(ParserOptions.Default, stream, persistent: stream.CanSeek, cancellationToken);
                dkim = await Guard<IReadOnlyList<DkimSignatureResult>>(() => _dkim.VerifyAsync(message, token), e => [new DkimSignatureResult(DkimResult.TempError, string.Empty, string.Empty, string.Empty, e)], cancellationToken);
            }
        }
        finally
        {
            await stream.DisposeAsync();
        }

        var spf = await spfTask;
        var spfDomain = envelope.MailFrom.Contains('@') ? envelope.MailFrom[(envelope.MailFrom.LastIndexOf('@') + 1)..] : helo;
        var dmarc = await Guard(() => _dmarc.EvaluateAsync(fromDomain, spf.Result, spfDomain, dkim, envelope.MessageId, token), e => new DmarcOutcome(DmarcResult.TempError, fromDomain, null, e), cancellationToken);
        var spam = await spamTask;
        var virus = await virusTask;

        var verdicts = new Verdicts(
            spam.Verdict,
            virus.Verdict,
            Verdicts.ForSpf(spf.Result),
            Verdicts.ForDkim(dkim, fromDomain),
            Verdicts.ForDmarc(dmarc.Result),
            dmarc.Result == DmarcResult.Fail ? dmarc.Policy : null);

        notes.Add($"spf={Name(spf.Result)}: {spf.Reason}");
        notes.AddRange(dkim.Select(d => $"dkim={Name(d.Result)} d={d.Domain} s={d.Selector}: {d.Reason}"));
        notes.Add($"dmarc={Name(dmarc.Result)}: {dmarc.Reason}{(dmarc.Policy is { } p ? $" (policy {p})" : string.Empty)}");
        if (scan)
        {
            notes.Add($"spam {spam.Verdict.Status}: {spam.Detail}");
            notes.Add($"virus {virus.Verdict.Status}: {virus.Detail}");
        }

        return new AuthenticationRecord(verdicts, Headers(envelope, ip, helo, scan, verdicts, spf, spfDomain, dkim, dmarc), notes);
    }

    /// <summary>Runs one check; the end of the time budget or a failure makes its result the fallback, never the message's failure.</summary>
    private async Task<T> Guard<T>(Func<Task<T>> check, Func<string, T> fallback, CancellationToken processing)
    {
        try
        {
            return await check();
        }
        catch (OperationCanceledException) when (!processing.IsCancellationRequested)
        {
            LogBudgetExceeded(_logger, _options.Budget.TotalSeconds);
            return fallback($"not finished within the time budget of {_options.Budget.TotalSeconds:F0} s");
        }
    }

    private async Task<ScanOutcome> ScanSpamAsync(Func<CancellationToken, Task<Stream?>> openMessage, CancellationToken token, CancellationToken processing)
    {
        if (_spamd is null)
        {
            NotConfigured("Spamd");
            return new ScanOutcome(SesVerdict.Gray, "no spam scanner is configured (Authentication: Spamd)");
        }

        return await ScanAsync("spamd", _spamd.EndPoint, async () =>
        {
            await using var stream = await openMessage(token) ?? throw new FileNotFoundException("The received message is missing from the spool.");
            return await _spamd.ScanAsync(stream, stream.Length, token);
        }, processing);
    }

    private async Task<ScanOutcome> ScanVirusAsync(Func<CancellationToken, Task<Stream?>> openMessage, CancellationToken token, CancellationToken processing)
    {
        if (_clamd is null)
        {
            NotConfigured("Clamd");
            return new ScanOutcome(SesVerdict.Gray, "no virus scanner is configured (Authentication: Clamd)");
        }

        return await ScanAsync("clamd", _clamd.EndPoint, async () =>
        {
            await using var stream = await openMessage(token) ?? throw new FileNotFoundException("The received message is missing from the spool.");
            return await _clamd.ScanAsync(stream, token);
        }, processing);
    }

    private async Task<ScanOutcome> ScanAsync(string scanner, EndPoint endPoint, Func<Task<ScanOutcome>> scan, CancellationToken processing)
    {
        try
        {
            var outcome = await scan();
            if (outcome.Verdict == SesVerdict.ProcessingFailed)
            {
                LogScannerFailed(_logger, scanner, endPoint.ToString() ?? scanner, outcome.Detail);
            }

            return outcome;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or OperationCanceledException && !processing.IsCancellationRequested)
        {
            var detail = e is OperationCanceledException ? $"no answer within the time budget of {_options.Budget.TotalSeconds:F0} s" : e.Message;
            LogScannerFailed(_logger, scanner, endPoint.ToString() ?? scanner, detail);
            return new ScanOutcome(SesVerdict.ProcessingFailed, $"{scanner} at {endPoint} could not be reached: {detail}");
        }
    }

    private void NotConfigured(string setting)
    {
        if (Interlocked.Exchange(ref _notConfiguredLogged, 1) == 0)
        {
            LogNotConfigured(_logger, setting);
        }
    }

    // ---- Headers -------------------------------------------------------------------------------------------------

    private List<AddedHeader> Headers(Envelope envelope, IPAddress? ip, string helo, bool scan, Verdicts verdicts, SpfOutcome spf, string spfDomain, IReadOnlyList<DkimSignatureResult> dkim, DmarcOutcome dmarc)
    {
        var headers = new List<AddedHeader>();
        if (scan)
        {
            headers.Add(new AddedHeader("X-SES-Spam-Verdict", verdicts.Spam.Status));
            headers.Add(new AddedHeader("X-SES-Virus-Verdict", verdicts.Virus.Status));
        }

        var client = ip?.ToString() ?? "unknown";
        var sender = Clean(envelope.MailFrom);
        var heloText = Clean(helo);
        var comment = SpfComment(spf.Result, Clean(spfDomain), client);
        // RFC 7208 §9.1, in the shape SES writes it.
        headers.Add(new AddedHeader("Received-SPF", $"{Name(spf.Result)} (spfCheck: {comment}) client-ip={client}; envelope-from={sender}; helo={heloText};"));

        // RFC 8601, one method per folded line.
        var results = new StringBuilder(_authservId).Append(';');
        results.Append("\r\n spf=").Append(Name(spf.Result)).Append(" (spfCheck: ").Append(comment).Append(')');
        results.Append(envelope.MailFrom.Length > 0 ? " smtp.mailfrom=" + sender : " smtp.helo=" + heloText).Append(';');
        if (dkim.Count == 0)
        {
            results.Append("\r\n dkim=none;");
        }

        foreach (var signature in dkim)
        {
            results.Append("\r\n dkim=").Append(Name(signature.Result)).Append(" header.i=").Append(Clean(signature.Identity)).Append(" header.s=").Append(Clean(signature.Selector)).Append(';');
        }

        results.Append("\r\n dmarc=").Append(Name(dmarc.Result));
        if (dmarc.Policy is { } policy)
        {
            results.Append(" (p=").Append(policy).Append(')');
        }

        results.Append(" header.from=").Append(Clean(dmarc.FromDomain ?? "unknown")).Append(';');
        headers.Add(new AddedHeader("Authentication-Results", results.ToString()));

        // SES's X-SES-RECEIPT is an opaque, encrypted blob. Inlet's is the base64 of its verdicts as plain JSON, so
        // that something real stands where software expects the header, and a curious reader can decode it.
        var receipt = $"{{\"messageId\":\"{envelope.MessageId}\",\"spf\":\"{verdicts.Spf.Status}\",\"dkim\":\"{verdicts.Dkim.Status}\",\"dmarc\":\"{verdicts.Dmarc.Status}\",\"spam\":\"{verdicts.Spam.Status}\",\"virus\":\"{verdicts.Virus.Status}\"}}";
        headers.Add(new AddedHeader("X-SES-RECEIPT", Convert.ToBase64String(Encoding.UTF8.GetBytes(receipt))));
        return headers;
    }

    private static string SpfComment(SpfResult result, string domain, string client) => result switch
    {
        SpfResult.Pass => $"domain of {domain} designates {client} as permitted sender",
        SpfResult.Fail or SpfResult.SoftFail => $"domain of {domain} does not designate {client} as permitted sender",
        SpfResult.TempError => $"a temporary error prevented checking the SPF policy of {domain}",
        SpfResult.PermError => $"the SPF policy of {domain} could not be interpreted",
        _ => $"{client} is neither permitted nor denied by domain of {domain}",
    };

    /// <summary>What came from the client goes into a header without controls, parentheses or semicolons.</summary>
    private static string Clean(string text) =>
        text.Length == 0 ? "<>" : string.Concat(text.Where(c => c >= 0x21 && c != 0x7F && c is not '(' and not ')' and not ';'));

    private static string Name(SpfResult result) => result.ToString().ToLowerInvariant();

    private static string Name(DkimResult result) => result.ToString().ToLowerInvariant();

    private static string Name(DmarcResult result) => result.ToString().ToLowerInvariant();

    [LoggerMessage(EventId = 800, Level = LogLevel.Warning, Message = "{Scanner} at {EndPoint} did not give a verdict: {Detail}; the verdict is PROCESSING_FAILED and processing goes on")]
    private static partial void LogScannerFailed(ILogger logger, string scanner, string endPoint, string detail);

    [LoggerMessage(EventId = 801, Level = LogLevel.Warning, Message = "A rule has ScanEnabled but Authentication: {Setting} is not configured; its verdict is GRAY (not scanned)")]
    private static partial void LogNotConfigured(ILogger logger, string setting);

    [LoggerMessage(EventId = 802, Level = LogLevel.Warning, Message = "Authentication checks did not finish within {Seconds} s; what was unfinished is PROCESSING_FAILED")]
    private static partial void LogBudgetExceeded(ILogger logger, double seconds);
}
