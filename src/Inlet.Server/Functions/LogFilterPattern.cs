using System.Text;
using System.Text.RegularExpressions;

namespace Inlet.Functions;

/// <summary>
/// The part of CloudWatch Logs' filter pattern syntax that matches unstructured lines
/// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html): terms, all of which
/// must occur (<c>ERROR timeout</c>); quoted phrases (<c>"Task timed out"</c>); <c>?term</c>, of which at least one
/// must occur; <c>-term</c>, which must not; and a regular expression between percent signs (<c>%err(or)?%</c>).
/// Matching is case-sensitive and by substring, as CloudWatch's is. JSON (<c>{ $.x = 1 }</c>) and space-delimited
/// (<c>[ip, user, ...]</c>) patterns are refused rather than matched wrongly.
/// </summary>
internal sealed class LogFilterPattern
{
    private readonly List<string> _all = [];
    private readonly List<string> _any = [];
    private readonly List<string> _none = [];
    private Regex? _regex;

    private LogFilterPattern()
    {
    }

    /// <summary>Null for an empty pattern, which matches every line.</summary>
    public static LogFilterPattern? Parse(string? pattern, out string? error)
    {
        error = null;
        var text = (pattern ?? string.Empty).Trim();
        if (text.Length == 0)
        {
            return null;
        }

        var parsed = new LogFilterPattern();
        if (text.Length >= 2 && text[0] == '%' && text[^1] == '%')
        {
            try
            {
                parsed._regex = new Regex(text[1..^1], RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
                return parsed;
            }
            catch (ArgumentException e)
            {
                error = $"Invalid regular expression in filter pattern: {e.Message}";
                return null;
            }
        }

        if (text[0] is '{' or '[')
        {
            error = "JSON and space-delimited filter patterns are not supported here; use terms, \"quoted phrases\", ?terms, -terms or a %regular expression%";
            return null;
        }

        var i = 0;
        while (i < text.Length)
        {
            if (char.IsWhiteSpace(text[i]))
            {
                i++;
                continue;
            }

            var list = parsed._all;
            if (text[i] == '?')
            {
                list = parsed._any;
                i++;
            }
            else if (text[i] == '-' && i + 1 < text.Length && !char.IsWhiteSpace(text[i + 1]))
            {
                list = parsed._none;
                i++;
            }

            string term;
            if (i < text.Length && text[i] == '"')
            {
                var phrase = new StringBuilder();
                i++;
                while (i < text.Length && text[i] != '"')
                {
                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        i++;
                    }

                    phrase.Append(text[i++]);
                }

                if (i >= text.Length)
                {
                    error = "Invalid filter pattern: a quoted phrase is not closed";
                    return null;
                }

                i++;
                term = phrase.ToString();
            }
            else
            {
                var start = i;
                while (i < text.Length && !char.IsWhiteSpace(text[i]))
                {
                    i++;
                }

                term = text[start..i];
            }

            // The empty phrase "" matches everything; it adds no condition.
            if (term.Length > 0)
            {
                list.Add(term);
            }
        }

        return parsed;
    }

    public bool IsMatch(string line)
    {
        if (_regex is not null)
        {
            try
            {
                return _regex.IsMatch(line);
            }
            catch (RegexMatchTimeoutException)
            {
                return false;
            }
        }

        return _all.TrueForAll(t => line.Contains(t, StringComparison.Ordinal))
            && (_any.Count == 0 || _any.Exists(t => line.Contains(t, StringComparison.Ordinal)))
            && !_none.Exists(t => line.Contains(t, StringComparison.Ordinal));
    }
}
