using System.Globalization;
using System.Text;
using System.Xml;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Inlet.Api;

/// <summary>
/// The parameters of an AWS Query request (<c>Action=…&amp;Version=…</c>, form body and query string), with the
/// Query protocol's flattening: lists as <c>X.member.N</c>, maps as <c>X.entry.N.key</c> / <c>.value</c>.
/// </summary>
internal sealed class QueryRequest(Dictionary<string, string> parameters)
{
    public IReadOnlyDictionary<string, string> Parameters => parameters;

    public string? Action => Get("Action");

    public string? Get(string name) => parameters.TryGetValue(name, out var value) ? value : null;

    public bool GetBool(string name, bool fallback = false) =>
        Get(name) is { } value ? value.Equals("true", StringComparison.OrdinalIgnoreCase) : fallback;

    /// <summary><c>prefix.member.1</c>, <c>prefix.member.2</c>, … in order.</summary>
    public List<string> List(string prefix)
    {
        var list = new List<string>();
        for (var i = 1; parameters.TryGetValue($"{prefix}.member.{i}", out var value); i++)
        {
            list.Add(value);
        }

        return list;
    }

    /// <summary><c>prefix.entry.N.key</c> / <c>prefix.entry.N.value</c>.</summary>
    public Dictionary<string, string> Map(string prefix, string key = "key", string value = "value")
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; parameters.TryGetValue($"{prefix}.entry.{i}.{key}", out var k); i++)
        {
            map[k] = parameters.TryGetValue($"{prefix}.entry.{i}.{value}", out var v) ? v : string.Empty;
        }

        return map;
    }

    /// <summary>Every parameter under <c>prefix.</c>, with the prefix removed.</summary>
    public Dictionary<string, string> Under(string prefix)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in parameters)
        {
            if (key.StartsWith(prefix + ".", StringComparison.Ordinal))
            {
                result[key[(prefix.Length + 1)..]] = value;
            }
        }

        return result;
    }

    /// <summary>Room for a 10 MB message in base64 with its form encoding.</summary>
    public const int MaxValueLength = 32 * 1024 * 1024;

    public static async Task<QueryRequest> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in request.Query)
        {
            parameters[key] = value.ToString();
        }

        if (request.HasFormContentType)
        {
            // A form value may be a whole raw message (SendRawEmail: 10 MB, base64 and form-encoded), past the
            // 4 MB that ASP.NET Core allows one value by default.
            request.HttpContext.Features.Set<IFormFeature>(new FormFeature(request, new FormOptions { ValueLengthLimit = MaxValueLength }));
            var form = await request.ReadFormAsync(cancellationToken);
            foreach (var (key, value) in form)
            {
                parameters[key] = value.ToString();
            }
        }

        return new QueryRequest(parameters);
    }
}

/// <summary>AWS Query responses: <c>&lt;{Action}Response&gt;&lt;{Action}Result&gt;…</c> and <c>&lt;ErrorResponse&gt;</c>, in a service's namespace.</summary>
internal static class QueryXml
{
    private static readonly XmlWriterSettings s_settings = new() { Encoding = new UTF8Encoding(false), OmitXmlDeclaration = false, Indent = false };

    public static IResult Ok(string action, string ns, Action<XmlWriter>? result)
    {
        var xml = Write(w =>
        {
            w.WriteStartElement($"{action}Response", ns);
            if (result is not null)
            {
                w.WriteStartElement($"{action}Result", ns);
                result(w);
                w.WriteEndElement();
            }

            WriteMetadata(w, ns);
            w.WriteEndElement();
        });
        return Results.Content(xml, "text/xml", Encoding.UTF8);
    }

    public static IResult Error(string ns, string code, string message, int status, string type = "Sender") =>
        Results.Content(ErrorXml(ns, code, message, type), "text/xml", Encoding.UTF8, status);

    public static string ErrorXml(string ns, string code, string message, string type = "Sender") => Write(w =>
    {
        w.WriteStartElement("ErrorResponse", ns);
        w.WriteStartElement("Error", ns);
        w.WriteElementString("Type", ns, type);
        w.WriteElementString("Code", ns, code);
        w.WriteElementString("Message", ns, message);
        w.WriteEndElement();
        w.WriteElementString("RequestId", ns, Guid.NewGuid().ToString());
        w.WriteEndElement();
    });

    private static void WriteMetadata(XmlWriter w, string ns)
    {
        w.WriteStartElement("ResponseMetadata", ns);
        w.WriteElementString("RequestId", ns, Guid.NewGuid().ToString());
        w.WriteEndElement();
    }

    public static void Members<T>(XmlWriter w, string name, IEnumerable<T> items, Action<XmlWriter, T> item)
    {
        w.WriteStartElement(name);
        foreach (var value in items)
        {
            w.WriteStartElement("member");
            item(w, value);
            w.WriteEndElement();
        }

        w.WriteEndElement();
    }

    public static void Entries(XmlWriter w, string name, IEnumerable<KeyValuePair<string, string>> map)
    {
        w.WriteStartElement(name);
        foreach (var (key, value) in map)
        {
            w.WriteStartElement("entry");
            w.WriteElementString("key", key);
            w.WriteElementString("value", value);
            w.WriteEndElement();
        }

        w.WriteEndElement();
    }

    public static string Timestamp(DateTimeOffset time) => WireTime.IsoMilliseconds(time);

    private static string Write(Action<XmlWriter> body)
    {
        var buffer = new StringBuilder();
        using (var writer = XmlWriter.Create(new StringWriterUtf8(buffer), s_settings))
        {
            body(writer);
        }

        return buffer.ToString();
    }

    private sealed class StringWriterUtf8(StringBuilder builder) : StringWriter(builder, CultureInfo.InvariantCulture)
    {
        public override Encoding Encoding => new UTF8Encoding(false);
    }
}
