namespace Inlet.Authentication;

/// <summary>
/// The Public Suffix List (publicsuffix.org), for the organizational domain of DMARC (RFC 7489 §3.2): read from a
/// file — by default Debian's <c>publicsuffix</c> package, <c>/usr/share/publicsuffix/public_suffix_list.dat</c> — or,
/// when there is none, a small built-in list of the commonest suffixes.
/// </summary>
internal sealed class PublicSuffixList
{
    public const string DefaultPath = "/usr/share/publicsuffix/public_suffix_list.dat";

    /// <summary>
    /// Used when no list file can be read: the generic TLDs and a few country suffixes with second-level registries.
    /// Any other TLD is a public suffix by the list's implicit <c>*</c> rule.
    /// </summary>
    private static readonly string[] s_builtIn =
    [
        "com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "io", "dev", "app",
        "uk", "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "ltd.uk", "plc.uk",
        "au", "com.au", "net.au", "org.au", "edu.au", "gov.au",
        "jp", "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp",
        "nz", "co.nz", "org.nz", "br", "com.br", "in", "co.in", "za", "co.za", "cn", "com.cn",
        "de", "fr", "nl", "eu", "it", "es", "ch", "se", "no", "ca", "us", "test", "example", "invalid", "localhost",
    ];

    private readonly HashSet<string> _rules;
    private readonly HashSet<string> _wildcards;
    private readonly HashSet<string> _exceptions;

    private PublicSuffixList(IEnumerable<string> lines, string source)
    {
        Source = source;
        _rules = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        _wildcards = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        _exceptions = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith("//", StringComparison.Ordinal))
            {
                continue;
            }

            // A rule is the line up to its first whitespace.
            var rule = line.Split((char[]?)null, 2)[0].ToLowerInvariant();
            if (rule.StartsWith('!'))
            {
                _exceptions.Add(rule[1..]);
            }
            else if (rule.StartsWith("*.", StringComparison.Ordinal))
            {
                _wildcards.Add(rule[2..]);
            }
            else
            {
                _rules.Add(rule);
            }
        }
    }

    /// <summary>Where the rules came from: the file's path, or "built-in".</summary>
    public string Source { get; }

    public int Count => _rules.Count + _wildcards.Count + _exceptions.Count;

    public static PublicSuffixList BuiltIn { get; } = new(s_builtIn, "built-in");

    /// <summary>The list in <paramref name="path"/>, or the built-in one when that file does not exist.</summary>
    public static PublicSuffixList Load(string? path)
    {
        path ??= DefaultPath;
        return File.Exists(path) ? new PublicSuffixList(File.ReadLines(path), path) : BuiltIn;
    }

    /// <summary>
    /// The organizational domain: the public suffix plus one label (RFC 7489 §3.2, the PSL algorithm). A name that is
    /// itself a public suffix is its own organizational domain.
    /// </summary>
    public string OrganizationalDomain(string domain)
    {
        var labels = domain.TrimEnd('.').ToLowerInvariant().Split('.');
        // The longest matching rule wins; an exception rule's suffix is the rule minus its leftmost label.
        var suffixLength = 1;
        for (var i = 0; i < labels.Length; i++)
        {
            var candidate = string.Join('.', labels[i..]);
            var count = labels.Length - i;
            if (_exceptions.Contains(candidate))
            {
                suffixLength = count - 1;
                break;
            }

            if (_rules.Contains(candidate) && count > suffixLength)
            {
                suffixLength = count;
            }

            if (i + 1 < labels.Length && _wildcards.Contains(string.Join('.', labels[(i + 1)..])) && count > suffixLength)
            {
                suffixLength = count;
            }
        }

        return suffixLength >= labels.Length ? string.Join('.', labels) : string.Join('.', labels[^(suffixLength + 1)..]);
    }
}
