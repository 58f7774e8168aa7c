using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Inlet.Authentication;

/// <summary>The seven results of RFC 7208 §2.6.</summary>
internal enum SpfResult
{
    None,
    Neutral,
    Pass,
    Fail,
    SoftFail,
    TempError,
    PermError,
}

/// <summary>The outcome of <c>check_host()</c>: the result, why, and the explanation of a fail (RFC 7208 §6.2).</summary>
internal sealed record SpfOutcome(SpfResult Result, string Reason, string? Explanation = null);

/// <summary>
/// SPF per RFC 7208: <c>check_host(ip, domain, sender)</c> with every mechanism (all, include, a, mx, ptr, ip4, ip6,
/// exists) and modifier (redirect, exp, unknown ones ignored), macros (§7), the limit of 10 DNS-querying terms and of
/// 2 void lookups (§4.6.4), and the whole record parsed before any of it is evaluated (§4.6).
/// </summary>
internal sealed class SpfEvaluator(IDnsResolver dns)
{
    private const int MaxDnsTerms = 10;
    private const int MaxVoidLookups = 2;
    private const int MaxMxOrPtrNames = 10;

    /// <summary>Checks <paramref name="sender"/> (the MAIL FROM, or empty for the null sender) from <paramref name="ip"/>.</summary>
    public async Task<SpfOutcome> CheckAsync(IPAddress ip, string sender, string helo, CancellationToken cancellationToken)
    {
        // RFC 7208 §2.4: for the null sender, the HELO identity is checked, as postmaster@helo.
        string domain;
        string local;
        var at = sender.LastIndexOf('@');
        if (sender.Length == 0 || at < 0)
        {
            domain = helo;
            local = "postmaster";
        }
        else
        {
            domain = sender[(at + 1)..];
            local = sender[..at];
        }

        if (local.Length == 0)
        {
            local = "postmaster";
        }

        var context = new Context(ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip, local, domain, helo);
        return await CheckHostAsync(context, domain, isTop: true, cancellationToken);
    }

    private sealed class Context(IPAddress ip, string local, string domain, string helo)
    {
        public IPAddress Ip { get; } = ip;

        public string Local { get; } = local;

        /// <summary>The sender's domain (%{o}).</summary>
        public string SenderDomain { get; } = domain;

        public string Helo { get; } = helo;

        public string Sender => Local + "@" + SenderDomain;

        public int DnsTerms { get; set; }

        public int VoidLookups { get; set; }

        /// <summary>%{p} for each domain it was expanded for.</summary>
        public Dictionary<string, string> ValidatedName { get; } = new(StringComparer.OrdinalIgnoreCase);
    }

    private sealed class SpfPermErrorException(string message) : Exception(message);

    private sealed class SpfTempErrorException(string message) : Exception(message);

    private async Task<SpfOutcome> CheckHostAsync(Context context, string domain, bool isTop, CancellationToken cancellationToken)
    {
        domain = domain.TrimEnd('.');
        // §4.3: a malformed or single-label domain gives none.
        if (!IsValidDomain(domain))
        {
            return new SpfOutcome(SpfResult.None, $"{domain} is not a valid domain name");
        }

        var txt = await dns.TxtAsync(domain, cancellationToken);
        if (txt.Status == DnsStatus.Failed)
        {
            return new SpfOutcome(SpfResult.TempError, $"DNS error looking up the SPF record of {domain}: {txt.Error}");
        }

        var records = txt.Records.Where(IsSpfRecord).ToList();
        if (records.Count == 0)
        {
            return new SpfOutcome(SpfResult.None, $"{domain} has no SPF record");
        }

        if (records.Count > 1)
        {
            return new SpfOutcome(SpfResult.PermError, $"{domain} has {records.Count} SPF records");
        }

        try
        {
            var record = Parse(records[0]);
            return await EvaluateAsync(context, domain, record, isTop, cancellationToken);
        }
        catch (SpfPermErrorException e)
        {
            return new SpfOutcome(SpfResult.PermError, e.Message);
        }
        catch (SpfTempErrorException e)
        {
            return new SpfOutcome(SpfResult.TempError, e.Message);
        }
    }

    private static bool IsSpfRecord(string text) =>
        text.StartsWith("v=spf1", StringComparison.OrdinalIgnoreCase) && (text.Length == 6 || text[6] == ' ');

    private async Task<SpfOutcome> EvaluateAsync(Context context, string domain, SpfRecord record, bool isTop, CancellationToken cancellationToken)
    {
        foreach (var directive in record.Directives)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (await MatchesAsync(context, domain, directive, cancellationToken))
            {
                var result = directive.Qualifier switch
                {
                    '-' => SpfResult.Fail,
                    '~' => SpfResult.SoftFail,
                    '?' => SpfResult.Neutral,
                    _ => SpfResult.Pass,
                };
                var reason = $"{directive.Name}{(directive.Argument is null ? string.Empty : ":" + directive.Argument)} of {domain} matched {context.Ip}";
                string? explanation = null;
                if (result == SpfResult.Fail && record.Explanation is { } exp)
                {
                    explanation = await ExplainAsync(context, domain, exp, cancellationToken);
                }

                return new SpfOutcome(result, reason, explanation);
            }
        }

        if (record.Redirect is { } redirect)
        {
            CountDnsTerm(context);
            var target = await ExpandDomainAsync(context, domain, redirect, cancellationToken);
            var outcome = await CheckHostAsync(context, target, isTop, cancellationToken);
            // §6.1: a redirect to a domain without an SPF record (or not a domain at all) is a permerror.
            return outcome.Result == SpfResult.None
                ? new SpfOutcome(SpfResult.PermError, $"redirect={target}: {outcome.Reason}")
                : outcome;
        }

        // §4.7: no mechanism matched and no redirect.
        return new SpfOutcome(SpfResult.Neutral, $"no mechanism of {domain} matched {context.Ip}");
    }

    private void CountDnsTerm(Context context)
    {
        if (++context.DnsTerms > MaxDnsTerms)
        {
            throw new SpfPermErrorException($"more than {MaxDnsTerms} DNS-querying terms (RFC 7208 §4.6.4)");
        }
    }

    private void CountVoid(Context context)
    {
        if (++context.VoidLookups > MaxVoidLookups)
        {
            throw new SpfPermErrorException($"more than {MaxVoidLookups} void DNS lookups (RFC 7208 §4.6.4)");
        }
    }

    private async Task<bool> MatchesAsync(Context context, string domain, Directive directive, CancellationToken cancellationToken)
    {
        switch (directive.Name)
        {
            case "all":
                return true;

            case "ip4":
            case "ip6":
                return InNetwork(context.Ip, directive.Network!, directive.Name == "ip4" ? directive.Cidr4 : directive.Cidr6);

            case "a":
            {
                CountDnsTerm(context);
                var target = directive.Argument is null ? domain : await ExpandDomainAsync(context, domain, directive.Argument, cancellationToken);
                var addresses = await AddressesAsync(context, target, context.Ip.AddressFamily, cancellationToken);
                return addresses.Any(a => InNetwork(context.Ip, a, Prefix(context, directive)));
            }

            case "mx":
            {
                CountDnsTerm(context);
                var target = directive.Argument is null ? domain : await ExpandDomainAsync(context, domain, directive.Argument, cancellationToken);
                var mx = await dns.MxAsync(target, cancellationToken);
                if (mx.Status == DnsStatus.Failed)
                {
                    throw new SpfTempErrorException($"DNS error looking up MX of {target}: {mx.Error}");
                }

                if (mx.IsVoid)
                {
                    CountVoid(context);
                    return false;
                }

                if (mx.Records.Count > MaxMxOrPtrNames)
                {
                    throw new SpfPermErrorException($"{target} has more than {MaxMxOrPtrNames} MX records (RFC 7208 §4.6.4)");
                }

                foreach (var host in mx.Records)
                {
                    var addresses = await AddressesAsync(context, host, context.Ip.AddressFamily, cancellationToken);
                    if (addresses.Any(a => InNetwork(context.Ip, a, Prefix(context, directive))))
                    {
                        return true;
                    }
                }

                return false;
            }

            case "ptr":
            {
                CountDnsTerm(context);
                var target = directive.Argument is null ? domain : await ExpandDomainAsync(context, domain, directive.Argument, cancellationToken);
                var names = await ValidatedNamesAsync(context, cancellationToken);
                return names.Any(n => IsSameOrSubdomain(n, target));
            }

            case "exists":
            {
                CountDnsTerm(context);
                var target = await ExpandDomainAsync(context, domain, directive.Argument!, cancellationToken);
                // §5.7: always an A query, whatever the client's address family.
                var addresses = await AddressesAsync(context, target, AddressFamily.InterNetwork, cancellationToken);
                return addresses.Count > 0;
            }

            case "include":
            {
                CountDnsTerm(context);
                var target = await ExpandDomainAsync(context, domain, directive.Argument!, cancellationToken);
                var outcome = await CheckHostAsync(context, target, isTop: false, cancellationToken);
                // §5.2: the table of include results.
                return outcome.Result switch
                {
                    SpfResult.Pass => true,
                    SpfResult.Fail or SpfResult.SoftFail or SpfResult.Neutral => false,
                    SpfResult.TempError => throw new SpfTempErrorException($"include:{target}: {outcome.Reason}"),
                    SpfResult.PermError => throw new SpfPermErrorException($"include:{target}: {outcome.Reason}"),
                    _ => throw new SpfPermErrorException($"include:{target}: {outcome.Reason}"),
                };
            }

            default:
                throw new SpfPermErrorException($"unknown mechanism {directive.Name}");
        }
    }

    private static int Prefix(Context context, Directive directive) =>
        context.Ip.AddressFamily == AddressFamily.InterNetworkV6 ? directive.Cidr6 : directive.Cidr4;

    private async Task<IReadOnlyList<IPAddress>> AddressesAsync(Context context, string name, AddressFamily family, CancellationToken cancellationToken)
    {
        if (!IsQueryableName(name))
        {
            // A target no DNS query can carry (an empty label, a label over 63 octets) cannot exist: a void lookup.
            CountVoid(context);
            return [];
        }

        var answer = await dns.AddressesAsync(name, family, cancellationToken);
        if (answer.Status == DnsStatus.Failed)
        {
            throw new SpfTempErrorException($"DNS error looking up {name}: {answer.Error}");
        }

        if (answer.IsVoid)
        {
            CountVoid(context);
        }

        return answer.Records;
    }

    /// <summary>§5.5: the PTR names of the client whose own addresses include the client (at most 10 names looked at).</summary>
    private async Task<List<string>> ValidatedNamesAsync(Context context, CancellationToken cancellationToken)
    {
        var validated = new List<string>();
        var ptr = await dns.PtrAsync(context.Ip, cancellationToken);
        if (ptr.Status != DnsStatus.Ok)
        {
            // A DNS error here makes the mechanism not match; it is not a temperror (§5.5).
            return validated;
        }

        foreach (var name in ptr.Records.Take(MaxMxOrPtrNames))
        {
            if (!IsQueryableName(name))
            {
                continue;
            }

            var addresses = await dns.AddressesAsync(name, context.Ip.AddressFamily, cancellationToken);
            if (addresses.Status == DnsStatus.Ok && addresses.Records.Any(a => a.Equals(context.Ip)))
            {
                validated.Add(name);
            }
        }

        return validated;
    }

    private static bool IsSameOrSubdomain(string name, string domain)
    {
        name = name.TrimEnd('.');
        domain = domain.TrimEnd('.');
        return name.Equals(domain, StringComparison.OrdinalIgnoreCase)
            || name.EndsWith("." + domain, StringComparison.OrdinalIgnoreCase);
    }

    private static bool InNetwork(IPAddress ip, IPAddress network, int prefix)
    {
        if (ip.AddressFamily != network.AddressFamily)
        {
            return false;
        }

        var a = ip.GetAddressBytes();
        var b = network.GetAddressBytes();
        var full = prefix / 8;
        for (var i = 0; i < full; i++)
        {
            if (a[i] != b[i])
            {
                return false;
            }
        }

        var bits = prefix % 8;
        if (bits == 0)
        {
            return true;
        }

        var mask = (byte)(0xFF << (8 - bits));
        return (a[full] & mask) == (b[full] & mask);
    }

    private async Task<string?> ExplainAsync(Context context, string domain, string exp, CancellationToken cancellationToken)
    {
        // §6.2: any trouble with the explanation means there is none; it never changes the result.
        try
        {
            var target = await ExpandDomainAsync(context, domain, exp, cancellationToken);
            if (!IsQueryableName(target))
            {
                return null;
            }

            var txt = await dns.TxtAsync(target, cancellationToken);
            if (txt.Status != DnsStatus.Ok || txt.Records.Count != 1 || txt.Records[0].Any(c => c > 127))
            {
                return null;
            }

            ValidateMacroString(txt.Records[0], allowExplanationLetters: true);
            await PrepareAsync(context, domain, txt.Records[0], cancellationToken);
            return Expand(context, domain, txt.Records[0], explanation: true);
        }
        catch (SpfPermErrorException)
        {
            return null;
        }
        catch (SpfTempErrorException)
        {
            return null;
        }
    }

    // ---- Parsing (§4.6.1, §12 ABNF) -------------------------------------------------------------------------------

    private sealed record Directive(char Qualifier, string Name, string? Argument)
    {
        public IPAddress? Network { get; init; }

        public int Cidr4 { get; init; } = 32;

        public int Cidr6 { get; init; } = 128;
    }

    private sealed record SpfRecord(IReadOnlyList<Directive> Directives, string? Redirect, string? Explanation);

    private static SpfRecord Parse(string text)
    {
        // §3.1 and §4.5: records are 7-bit ASCII; anything else is a permerror.
        foreach (var c in text)
        {
            if (c < 0x20 || c > 0x7E)
            {
                throw new SpfPermErrorException($"the SPF record holds a character outside printable ASCII (U+{(int)c:X4})");
            }
        }

        var directives = new List<Directive>();
        string? redirect = null;
        string? explanation = null;
        foreach (var term in text[6..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var modifier = ModifierName(term);
            if (modifier is not null)
            {
                var value = term[(modifier.Length + 1)..];
                switch (modifier.ToLowerInvariant())
                {
                    case "redirect":
                        ValidateDomainSpec(value, term);
                        redirect = redirect is null ? value : throw new SpfPermErrorException("more than one redirect= modifier");
                        break;
                    case "exp":
                        ValidateDomainSpec(value, term);
                        explanation = explanation is null ? value : throw new SpfPermErrorException("more than one exp= modifier");
                        break;
                    default:
                        // §6: unknown modifiers are ignored, but must be well formed.
                        ValidateMacroString(value, allowExplanationLetters: false);
                        break;
                }

                continue;
            }

            directives.Add(ParseDirective(term));
        }

        return new SpfRecord(directives, redirect, explanation);
    }

    /// <summary>The name of a modifier term (<c>name "=" macro-string</c>), or null for a directive.</summary>
    private static string? ModifierName(string term)
    {
        var i = 0;
        if (term.Length == 0 || !char.IsAsciiLetter(term[0]))
        {
            return null;
        }

        while (i < term.Length && (char.IsAsciiLetterOrDigit(term[i]) || term[i] is '-' or '_' or '.'))
        {
            i++;
        }

        return i < term.Length && term[i] == '=' ? term[..i] : null;
    }

    private static Directive ParseDirective(string term)
    {
        var qualifier = '+';
        var body = term;
        if (body.Length > 0 && body[0] is '+' or '-' or '~' or '?')
        {
            qualifier = body[0];
            body = body[1..];
        }

        var end = 0;
        while (end < body.Length && char.IsAsciiLetterOrDigit(body[end]))
        {
            end++;
        }

        var name = body[..end].ToLowerInvariant();
        var rest = body[end..];
        switch (name)
        {
            case "all":
                return rest.Length == 0 ? new Directive(qualifier, name, null) : throw Syntax(term);

            case "include":
            case "exists":
                if (!rest.StartsWith(':') || rest.Length == 1)
                {
                    throw Syntax(term);
                }

                ValidateDomainSpec(rest[1..], term);
                return new Directive(qualifier, name, rest[1..]);

            case "ptr":
                if (rest.Length == 0)
                {
                    return new Directive(qualifier, name, null);
                }

                if (!rest.StartsWith(':') || rest.Length == 1)
                {
                    throw Syntax(term);
                }

                ValidateDomainSpec(rest[1..], term);
                return new Directive(qualifier, name, rest[1..]);

            case "a":
            case "mx":
            {
                var (spec, cidr4, cidr6) = SplitDualCidr(rest, term);
                string? argument = null;
                if (spec.Length > 0)
                {
                    if (!spec.StartsWith(':') || spec.Length == 1)
                    {
                        throw Syntax(term);
                    }

                    argument = spec[1..];
                    ValidateDomainSpec(argument, term);
                }

                return new Directive(qualifier, name, argument) { Cidr4 = cidr4, Cidr6 = cidr6 };
            }

            case "ip4":
            {
                if (!rest.StartsWith(':'))
                {
                    throw Syntax(term);
                }

                var value = rest[1..];
                var slash = value.IndexOf('/');
                var address = slash < 0 ? value : value[..slash];
                var prefix = slash < 0 ? 32 : ParseCidr(value[(slash + 1)..], 32, term);
                if (!IsDottedQuad(address) || !IPAddress.TryParse(address, out var network))
                {
                    throw Syntax(term);
                }

                return new Directive(qualifier, name, value) { Network = network, Cidr4 = prefix };
            }

            case "ip6":
            {
                if (!rest.StartsWith(':'))
                {
                    throw Syntax(term);
                }

                var value = rest[1..];
                var slash = value.IndexOf('/');
                var address = slash < 0 ? value : value[..slash];
                var prefix = slash < 0 ? 128 : ParseCidr(value[(slash + 1)..], 128, term);
                if (!address.Contains(':') || address.Contains('%') || !IPAddress.TryParse(address, out var network) || network.AddressFamily != AddressFamily.InterNetworkV6)
                {
                    throw Syntax(term);
                }

                return new Directive(qualifier, name, value) { Network = network, Cidr6 = prefix };
            }

            default:
                throw new SpfPermErrorException($"unknown mechanism or malformed term '{term}'");
        }
    }

    private static SpfPermErrorException Syntax(string term) => new($"malformed term '{term}'");

    private static bool IsDottedQuad(string text)
    {
        var parts = text.Split('.');
        return parts.Length == 4 && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit) && int.Parse(p, CultureInfo.InvariantCulture) <= 255);
    }

    /// <summary>Splits <c>[":" domain-spec] [ "/" ip4-cidr ] [ "//" ip6-cidr ]</c> into its parts.</summary>
    private static (string Spec, int Cidr4, int Cidr6) SplitDualCidr(string rest, string term)
    {
        var cidr4 = 32;
        var cidr6 = 128;
        var double_ = rest.LastIndexOf("//", StringComparison.Ordinal);
        if (double_ >= 0 && rest[(double_ + 2)..].All(char.IsAsciiDigit))
        {
            cidr6 = ParseCidr(rest[(double_ + 2)..], 128, term);
            rest = rest[..double_];
        }

        var single = rest.LastIndexOf('/');
        if (single >= 0 && rest[(single + 1)..].All(char.IsAsciiDigit))
        {
            cidr4 = ParseCidr(rest[(single + 1)..], 32, term);
            rest = rest[..single];
        }

        return (rest, cidr4, cidr6);
    }

    private static int ParseCidr(string digits, int max, string term)
    {
        // ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT): no leading zeros, at most the address length.
        if (digits.Length == 0 || digits.Length > 3 || !digits.All(char.IsAsciiDigit) || (digits.Length > 1 && digits[0] == '0'))
        {
            throw Syntax(term);
        }

        var value = int.Parse(digits, CultureInfo.InvariantCulture);
        return value <= max ? value : throw Syntax(term);
    }

    /// <summary><c>domain-spec = macro-string domain-end</c>; <c>domain-end = ("." toplabel ["."]) / macro-expand</c>.</summary>
    private static void ValidateDomainSpec(string spec, string term)
    {
        if (spec.Length == 0)
        {
            throw Syntax(term);
        }

        ValidateMacroString(spec, allowExplanationLetters: false);
        if (spec.EndsWith('}'))
        {
            // Ends in a macro-expand: check that the last '%{' starts it.
            var open = spec.LastIndexOf("%{", StringComparison.Ordinal);
            if (open >= 0 && (open == 0 || spec[open - 1] != '%'))
            {
                return;
            }
        }

        var body = spec.EndsWith('.') ? spec[..^1] : spec;
        var dot = body.LastIndexOf('.');
        if (dot < 0)
        {
            throw new SpfPermErrorException($"'{spec}' in '{term}' does not end in a top-level label");
        }

        var top = body[(dot + 1)..];
        if (!IsTopLabel(top))
        {
            throw new SpfPermErrorException($"'{spec}' in '{term}' ends in '{top}', which is not a top-level label");
        }
    }

    /// <summary><c>toplabel = (*alphanum ALPHA *alphanum) / (1*alphanum "-" *(alphanum / "-") alphanum)</c>.</summary>
    private static bool IsTopLabel(string label)
    {
        if (label.Length == 0 || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
        {
            return false;
        }

        if (!label.Contains('-'))
        {
            return label.Any(char.IsAsciiLetter);
        }

        return char.IsAsciiLetterOrDigit(label[0]) && char.IsAsciiLetterOrDigit(label[^1]);
    }

    private static void ValidateMacroString(string text, bool allowExplanationLetters)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c != '%')
            {
                if (c < 0x21 && !(allowExplanationLetters && c == ' ') || c > 0x7E)
                {
                    throw new SpfPermErrorException($"'{text}' holds a character not allowed in a macro string");
                }

                continue;
            }

            if (i + 1 >= text.Length)
            {
                throw new SpfPermErrorException($"'{text}' ends in a lone '%'");
            }

            var next = text[i + 1];
            if (next is '%' or '_' or '-')
            {
                i++;
                continue;
            }

            if (next != '{')
            {
                throw new SpfPermErrorException($"'{text}' holds '%{next}', which is not a macro (RFC 7208 §7.1)");
            }

            var close = text.IndexOf('}', i + 2);
            if (close < 0)
            {
                throw new SpfPermErrorException($"'{text}' holds an unclosed macro");
            }

            ParseMacro(text[(i + 2)..close], allowExplanationLetters);
            i = close;
        }
    }

    private readonly record struct Macro(char Letter, bool Escape, int Keep, bool Reverse, string Delimiters);

    private static Macro ParseMacro(string body, bool allowExplanationLetters)
    {
        if (body.Length == 0)
        {
            throw new SpfPermErrorException("an empty macro %{}");
        }

        var letter = body[0];
        var lower = char.ToLowerInvariant(letter);
        if ("slodiphv".IndexOf(lower) < 0 && !(allowExplanationLetters && "crt".IndexOf(lower) >= 0))
        {
            throw new SpfPermErrorException($"%{{{body}}} uses an unknown macro letter '{letter}'");
        }

        var i = 1;
        var start = i;
        while (i < body.Length && char.IsAsciiDigit(body[i]))
        {
            i++;
        }

        var keep = 0;
        if (i > start)
        {
            // §7.3: a DIGIT transformer must be non-zero.
            if (!int.TryParse(body[start..i], NumberStyles.None, CultureInfo.InvariantCulture, out keep) || keep == 0)
            {
                throw new SpfPermErrorException($"%{{{body}}} keeps zero labels");
            }
        }

        var reverse = false;
        if (i < body.Length && body[i] is 'r' or 'R')
        {
            reverse = true;
            i++;
        }

        var delimiters = body[i..];
        if (delimiters.Any(c => ".-+,/_=".IndexOf(c) < 0))
        {
            throw new SpfPermErrorException($"%{{{body}}} has an unknown delimiter");
        }

        return new Macro(letter, char.IsAsciiLetterUpper(letter), keep, reverse, delimiters.Length == 0 ? "." : delimiters);
    }

    // ---- Macro expansion (§7) -------------------------------------------------------------------------------------

    /// <summary>Expands a domain-spec and shortens it to 253 characters by dropping labels from the left (§7.3).</summary>
    private async Task<string> ExpandDomainAsync(Context context, string domain, string spec, CancellationToken cancellationToken)
    {
        await PrepareAsync(context, domain, spec, cancellationToken);
        var expanded = Expand(context, domain, spec, explanation: false).TrimEnd('.');
        while (expanded.Length > 253)
        {
            var dot = expanded.IndexOf('.');
            if (dot < 0)
            {
                break;
            }

            expanded = expanded[(dot + 1)..];
        }

        return expanded;
    }

    /// <summary>
    /// %{p} (§7.3) is the one macro that needs DNS: the client's validated PTR name, preferring <paramref name="domain"/>
    /// itself, then a subdomain of it, then any; "unknown" when there is none. It is looked up once per domain.
    /// </summary>
    private async Task PrepareAsync(Context context, string domain, string text, CancellationToken cancellationToken)
    {
        if (!text.Contains("%{p", StringComparison.OrdinalIgnoreCase) || context.ValidatedName.ContainsKey(domain))
        {
            return;
        }

        var names = await ValidatedNamesAsync(context, cancellationToken);
        context.ValidatedName[domain] =
            names.FirstOrDefault(n => n.Equals(domain, StringComparison.OrdinalIgnoreCase))
            ?? names.FirstOrDefault(n => IsSameOrSubdomain(n, domain))
            ?? names.FirstOrDefault()
            ?? "unknown";
    }

    private static string Expand(Context context, string domain, string text, bool explanation)
    {
        var output = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c != '%')
            {
                output.Append(c);
                continue;
            }

            var next = text[++i];
            switch (next)
            {
                case '%':
                    output.Append('%');
                    continue;
                case '_':
                    output.Append(' ');
                    continue;
                case '-':
                    output.Append("%20");
                    continue;
            }

            var close = text.IndexOf('}', i);
            var macro = ParseMacro(text[(i + 1)..close], explanation);
            i = close;
            output.Append(ExpandMacro(context, domain, macro));
        }

        return output.ToString();
    }

    private static string ExpandMacro(Context context, string domain, Macro macro)
    {
        var value = char.ToLowerInvariant(macro.Letter) switch
        {
            's' => context.Sender,
            'l' => context.Local,
            'o' => context.SenderDomain,
            'd' => domain,
            'i' => DottedAddress(context.Ip),
            'p' => context.ValidatedName.GetValueOrDefault(domain, "unknown"),
            'v' => context.Ip.AddressFamily == AddressFamily.InterNetworkV6 ? "ip6" : "in-addr",
            'h' => context.Helo,
            'c' => context.Ip.ToString(),
            'r' => "unknown",
            't' => DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            _ => string.Empty,
        };

        var parts = value.Split(macro.Delimiters.ToCharArray());
        IEnumerable<string> ordered = macro.Reverse ? parts.Reverse() : parts;
        var list = ordered.ToList();
        if (macro.Keep > 0 && macro.Keep < list.Count)
        {
            list = list.Skip(list.Count - macro.Keep).ToList();
        }

        var joined = string.Join('.', list);
        return macro.Escape ? Uri.EscapeDataString(joined) : joined;
    }

    /// <summary>%{i}: dotted-quad for IPv4, dot-separated nibbles for IPv6 (§7.3).</summary>
    private static string DottedAddress(IPAddress ip)
    {
        if (ip.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return ip.ToString();
        }

        var bytes = ip.GetAddressBytes();
        var nibbles = new List<string>(32);
        foreach (var b in bytes)
        {
            nibbles.Add(((b >> 4) & 0xF).ToString("x", CultureInfo.InvariantCulture));
            nibbles.Add((b & 0xF).ToString("x", CultureInfo.InvariantCulture));
        }

        return string.Join('.', nibbles);
    }

    // ---- Names ----------------------------------------------------------------------------------------------------

    /// <summary>§4.3: a multi-label name with no empty label and no label over 63 octets.</summary>
    internal static bool IsValidDomain(string domain)
    {
        domain = domain.TrimEnd('.');
        if (domain.Length == 0 || domain.Length > 253 || domain.StartsWith('['))
        {
            return false;
        }

        var labels = domain.Split('.');
        return labels.Length >= 2 && labels.All(l => l.Length is > 0 and <= 63);
    }

    private static bool IsQueryableName(string name)
    {
        name = name.TrimEnd('.');
        return name.Length is > 0 and <= 253 && name.Split('.').All(l => l.Length is > 0 and <= 63);
    }
}
