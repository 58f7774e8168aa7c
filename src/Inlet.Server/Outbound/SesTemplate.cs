using System.Net;
using System.Text;
using System.Text.Json;

namespace Inlet.Outbound;

/// <summary>
/// The part of SES's Handlebars templates that personalised mail uses: <c>{{name}}</c> and <c>{{a.b}}</c> replaced
/// by TemplateData's values (HTML-escaped in the HTML part, as Handlebars escapes), <c>{{{name}}}</c> unescaped.
/// A name without a value renders as nothing. Helpers and blocks (<c>{{#if}}</c>, <c>{{#each}}</c>) are not supported.
/// </summary>
internal static class SesTemplate
{
    public static string Render(string template, JsonElement data, bool escapeHtml)
    {
        var output = new StringBuilder(template.Length);
        var i = 0;
        while (i < template.Length)
        {
            var open = template.IndexOf("{{", i, StringComparison.Ordinal);
            if (open < 0)
            {
                output.Append(template, i, template.Length - i);
                break;
            }

            output.Append(template, i, open - i);
            var triple = open + 2 < template.Length && template[open + 2] == '{';
            var closer = triple ? "}}}" : "}}";
            var close = template.IndexOf(closer, open, StringComparison.Ordinal);
            if (close < 0)
            {
                output.Append(template, open, template.Length - open);
                break;
            }

            var start = open + (triple ? 3 : 2);
            var value = Lookup(data, template[start..close].Trim());
            output.Append(escapeHtml && !triple ? WebUtility.HtmlEncode(value) : value);
            i = close + closer.Length;
        }

        return output.ToString();
    }

    private static string Lookup(JsonElement data, string path)
    {
        var current = data;
        foreach (var name in path.Split('.'))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(name, out current))
            {
                return string.Empty;
            }
        }

        return current.ValueKind switch
        {
            JsonValueKind.String => current.GetString()!,
            JsonValueKind.Null or JsonValueKind.Undefined => string.Empty,
            _ => current.GetRawText(),
        };
    }
}
