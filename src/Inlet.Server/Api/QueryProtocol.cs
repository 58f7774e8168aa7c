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

    /// <summary>The longest value of any other parameter: ASP.NET Core's default, far above what any action takes.</summary>
    public const int MaxOrdinaryValueLength = 4 * 1024 * 1024;

    /// <summary>The parameters allowed up to <see cref="MaxValueLength"/>: SendRawEmail's message, SendEmail's bodies.</summary>
    private static readonly HashSet<string> s_largeValues = new(StringComparer.Ordinal) { "RawMessage.Data", "Message.Body.Text.Data", "Message.Body.Html.Data" };

    public const int MaxParameters = 1024;

    public const int MaxKeyLength = 2048;

    /// <summary>
    /// Reads and checks the parameters: every limit and malformation is a 400 with the Query protocol's code
    /// (<see cref="QueryRequestException"/>), never an exception from deeper down.
    /// </summary>
    public static async Task<QueryRequest> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        Add(parameters, request.Query);
        if (request.HasFormContentType)
        {
            var charset = Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(request.ContentType, out var type) ? type.Charset.Value : null;
            if (charset is not null && !charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("us-ascii", StringComparison.OrdinalIgnoreCase))
            {
                throw new QueryRequestException("MalformedQueryString", $"Unsupported charset '{charset}': the Query protocol's form is UTF-8");
            }

            // A form value may be a whole raw message (SendRawEmail: 10 MB, base64 and form-encoded), past the
            // 4 MB that ASP.NET Core allows one value by default; other values are held to that after reading.
            request.HttpContext.Features.Set<IFormFeature>(new FormFeature(request, new FormOptions
            {
                ValueLengthLimit = MaxValueLength,
                ValueCountLimit = MaxParameters,
                KeyLengthLimit = MaxKeyLength,
                MultipartBodyLengthLimit = MaxValueLength,
            }));
            IFormCollection form;
            try
            {
                form = await request.ReadFormAsync(cancellationToken);
            }
            catch (Exception e) when (e is InvalidDataException or DecoderFallbackException or FormatException or IOException && e is not Microsoft.AspNetCore.Http.BadHttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                throw new QueryRequestException("MalformedQueryString", $"The request body is not a valid form: {e.Message}");
            }

            Add(parameters, form);
        }

        if (parameters.Count > MaxParameters)
        {
            throw new QueryRequestException("MalformedQueryString", $"Too many parameters: {parameters.Count} (at most {MaxParameters})");
        }

        return new QueryRequest(parameters);
    }

    private static void Add(Dictionary<string, string> parameters, IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> source)
    {
        foreach (var (key, values) in source)
        {
            if (values.Count > 1 || parameters.ContainsKey(key))
            {
                // Two values for one name (a second Signature, a second Action) would be joined or one silently won.
                throw new QueryRequestException("MalformedQueryString", $"The parameter {Cut(key)} is given more than once");
            }

            var value = values.ToString();
            if (key.Length > MaxKeyLength)
            {
                throw new QueryRequestException("MalformedQueryString", $"A parameter name is {key.Length} characters long (at most {MaxKeyLength})");
            }

            if (key.Contains('\0') || value.Contains('\0'))
            {
                // As ASP.NET Core's form reader refuses a NUL in the body: the request cannot be read.
                throw new QueryRequestException("MalformedQueryString", $"The parameter {Cut(key)} contains a NUL character");
            }

            if (value.Length > MaxOrdinaryValueLength && !s_largeValues.Contains(key))
            {
                throw new QueryRequestException("InvalidParameterValue", $"The value of {Cut(key)} is {value.Length} characters long (at most {MaxOrdinaryValueLength})");
            }

            parameters[key] = value;
        }
    }

    private static string Cut(string key) => (key.Length > 64 ? key[..64] + "…" : key).Replace('\0', '?');
}

/// <summary>A Query request that cannot be read: answered 400 with <see cref="Code"/>.</summary>
internal sealed class QueryRequestException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
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
