using System.Globalization;
using System.Text.Json;
using Inlet.Mail;
using Inlet.Management;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Inlet.Api;

/// <summary>
/// SESv2's sending and email identity operations (REST-JSON, 2019-09-27): <c>POST /v2/email/outbound-emails</c>
/// and <c>/v2/email/identities</c>, signed as service <c>ses</c>. Errors carry the code in <c>x-amzn-ErrorType</c>.
/// </summary>
internal static class SesV2Endpoints
{
    public const string SendPath = "/v2/email/outbound-emails";

    /// <summary>A 40 MB raw message in base64, with the JSON around it.</summary>
    public const long MaxSendRequestSize = 64L * 1024 * 1024;

    private const int MaxPageSize = 1000;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost(SendPath, SendEmailAsync);
        app.MapPost("/v2/email/identities", CreateIdentityAsync);
        app.MapGet("/v2/email/identities", ListIdentities);
        app.MapGet("/v2/email/identities/{identity}", GetIdentity);
        app.MapDelete("/v2/email/identities/{identity}", DeleteIdentityAsync);
    }

    private static async Task<IResult> SendEmailAsync(HttpRequest request, SendingService sending, CancellationToken cancellationToken)
    {
        try
        {
            using var document = await ReadAsync(request, cancellationToken);
            var body = document.RootElement;
            var from = String(body, "FromEmailAddress");
            var destination = body.TryGetProperty("Destination", out var d) ? d : default;
            var to = Strings(destination, "ToAddresses");
            var cc = Strings(destination, "CcAddresses");
            var bcc = Strings(destination, "BccAddresses");
            if (!body.TryGetProperty("Content", out var content) || content.ValueKind != JsonValueKind.Object)
            {
                throw new SendingException(SendingException.InvalidParameterValue, "Content is required.");
            }

            string id;
            if (content.TryGetProperty("Raw", out var raw))
            {
                byte[] data;
                try
                {
                    data = Convert.FromBase64String(String(raw, "Data") ?? string.Empty);
                }
                catch (FormatException)
                {
                    throw new SendingException(SendingException.InvalidParameterValue, "Content.Raw.Data must be base64-encoded.");
                }

                var destinations = to.Concat(cc).Concat(bcc).ToList();
                id = await sending.SendRawAsync(data, from, destinations.Count > 0 ? destinations : null, SendingService.MaxRawSizeV2, cancellationToken);
            }
            else
            {
                var source = from ?? throw new SendingException(SendingException.InvalidParameterValue, "FromEmailAddress is required for Simple and Template content.");
                var composition = content.TryGetProperty("Simple", out var simple) ? Simple(simple, source)
                    : content.TryGetProperty("Template", out var template) ? Template(template, source)
                    : throw new SendingException(SendingException.InvalidParameterValue, "Content must have Simple, Raw or Template.");
                id = await sending.SendAsync(composition with { To = to, Cc = cc, Bcc = bcc, ReplyTo = Strings(body, "ReplyToAddresses") }, cancellationToken);
            }

            request.HttpContext.Items[AwsOperation.OutcomeItem] = $"outbox {id}";
            return Json(w => w.WriteString("MessageId", id));
        }
        catch (SendingException e)
        {
            return Error(e);
        }
    }

    private static SesComposition Simple(JsonElement simple, string source)
    {
        var subject = simple.TryGetProperty("Subject", out var s) ? Text(s) : null;
        var body = simple.TryGetProperty("Body", out var b) ? b : default;
        var attachments = new List<SesAttachment>();
        if (simple.TryGetProperty("Attachments", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var a in list.EnumerateArray())
            {
                byte[] data;
                try
                {
                    data = Convert.FromBase64String(String(a, "RawContent") ?? string.Empty);
                }
                catch (FormatException)
                {
                    throw new SendingException(SendingException.InvalidParameterValue, "Attachment RawContent must be base64-encoded.");
                }

                attachments.Add(new SesAttachment(String(a, "FileName") ?? "attachment", data, String(a, "ContentType"), String(a, "ContentDisposition"), String(a, "ContentId"), String(a, "ContentDescription")));
            }
        }

        return new SesComposition
        {
            Source = source,
            Subject = subject ?? throw new SendingException(SendingException.InvalidParameterValue, "Content.Simple.Subject is required."),
            Text = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("Text", out var t) ? Text(t) : null,
            Html = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("Html", out var h) ? Text(h) : null,
            Headers = Headers(simple),
            Attachments = attachments,
        };
    }

    /// <summary>An inline TemplateContent rendered with TemplateData; stored templates are not kept by Inlet.</summary>
    private static SesComposition Template(JsonElement template, string source)
    {
        if (!template.TryGetProperty("TemplateContent", out var inline) || inline.ValueKind != JsonValueKind.Object)
        {
            var name = String(template, "TemplateName") ?? String(template, "TemplateArn") ?? string.Empty;
            throw new SendingException(SendingException.NotFound, $"Template {name} does not exist.");
        }

        JsonElement data;
        try
        {
            using var parsed = JsonDocument.Parse(String(template, "TemplateData") ?? "{}");
            data = parsed.RootElement.Clone();
        }
        catch (JsonException)
        {
            throw new SendingException(SendingException.InvalidParameterValue, "TemplateData is not valid JSON.");
        }

        string? Render(string field, bool html) => String(inline, field) is { } text ? SendingService.RenderTemplate(text, data, html) : null;
        return new SesComposition
        {
            Source = source,
            Subject = new SesText(Render("Subject", false) ?? string.Empty),
            Text = Render("Text", false) is { } text ? new SesText(text) : null,
            Html = Render("Html", true) is { } html ? new SesText(html) : null,
            Headers = Headers(template),
        };
    }

    private static async Task<IResult> CreateIdentityAsync(HttpRequest request, SendingService sending, CancellationToken cancellationToken)
    {
        try
        {
            using var document = await ReadAsync(request, cancellationToken);
            var name = String(document.RootElement, "EmailIdentity") ?? throw new SendingException(SendingException.InvalidParameterValue, "EmailIdentity is required.");
            var isDomain = !name.Contains('@');
            if (isDomain ? !SendingService.IsDomainName(name) : SendingService.AddressOf(name) != name)
            {
                throw new SendingException(SendingException.InvalidParameterValue, $"Invalid identity {name}.");
            }

            if (sending.FindIdentity(name) is { Source: not IdentitySource.ReceiptRules })
            {
                throw new SendingException(SendingException.AlreadyExists, $"Email identity {name} already exist.");
            }

            var identity = await sending.AddIdentityAsync(name, isDomain, cancellationToken);
            return Json(w =>
            {
                w.WriteString("IdentityType", identity.IsDomain ? "DOMAIN" : "EMAIL_ADDRESS");
                w.WriteBoolean("VerifiedForSendingStatus", true);
                WriteDkim(w);
            });
        }
        catch (SendingException e)
        {
            return Error(e);
        }
    }

    private static IResult ListIdentities(SendingService sending, string? nextToken, int? pageSize)
    {
        var size = Math.Clamp(pageSize ?? 100, 1, MaxPageSize);
        var start = int.TryParse(nextToken, NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : 0;
        var all = sending.Identities();
        var page = all.Skip(start).Take(size).ToList();
        return Json(w =>
        {
            w.WriteStartArray("EmailIdentities");
            foreach (var identity in page)
            {
                w.WriteStartObject();
                w.WriteString("IdentityType", identity.IsDomain ? "DOMAIN" : "EMAIL_ADDRESS");
                w.WriteString("IdentityName", identity.Name);
                w.WriteBoolean("SendingEnabled", true);
                w.WriteString("VerificationStatus", "SUCCESS");
                w.WriteEndObject();
            }

            w.WriteEndArray();
            if (start + size < all.Count)
            {
                w.WriteString("NextToken", (start + size).ToString(CultureInfo.InvariantCulture));
            }
        });
    }

    private static IResult GetIdentity(SendingService sending, string identity)
    {
        if (sending.FindIdentity(identity) is not { } found)
        {
            return Error(new SendingException(SendingException.NotFound, $"Email identity {identity} does not exist."));
        }

        return Json(w =>
        {
            w.WriteString("IdentityType", found.IsDomain ? "DOMAIN" : "EMAIL_ADDRESS");
            w.WriteBoolean("FeedbackForwardingStatus", true);
            w.WriteBoolean("VerifiedForSendingStatus", true);
            w.WriteString("VerificationStatus", "SUCCESS");
            WriteDkim(w);
            w.WriteStartObject("Policies");
            w.WriteEndObject();
            w.WriteStartArray("Tags");
            w.WriteEndArray();
        });
    }

    private static async Task<IResult> DeleteIdentityAsync(SendingService sending, string identity, CancellationToken cancellationToken)
    {
        if (await sending.DeleteIdentityAsync(identity, cancellationToken))
        {
            return Json(_ => { });
        }

        return Error(sending.FindIdentity(identity) is { } kept
            ? new SendingException(SendingException.InvalidParameterValue, $"Email identity {identity} is declared by {(kept.Source == IdentitySource.Configuration ? "the configuration file (Identities)" : "the receipt rules")} and cannot be deleted through the API.")
            : new SendingException(SendingException.NotFound, $"Email identity {identity} does not exist."));
    }

    /// <summary>Inlet does not DKIM-sign what it sends.</summary>
    private static void WriteDkim(Utf8JsonWriter w)
    {
        w.WriteStartObject("DkimAttributes");
        w.WriteBoolean("SigningEnabled", false);
        w.WriteString("Status", "NOT_STARTED");
        w.WriteStartArray("Tokens");
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static async Task<JsonDocument> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
        }
        catch (JsonException e)
        {
            throw new SendingException(SendingException.InvalidParameterValue, $"The request body is not valid JSON: {e.Message}");
        }
    }

    private static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static List<string> Strings(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? [.. value.EnumerateArray().Where(v => v.ValueKind == JsonValueKind.String).Select(v => v.GetString()!)]
            : [];

    private static SesText? Text(JsonElement content) => String(content, "Data") is { } data ? new SesText(data, String(content, "Charset")) : null;

    private static List<KeyValuePair<string, string>> Headers(JsonElement element) =>
        element.TryGetProperty("Headers", out var headers) && headers.ValueKind == JsonValueKind.Array
            ? [.. headers.EnumerateArray().Select(h => new KeyValuePair<string, string>(String(h, "Name") ?? string.Empty, String(h, "Value") ?? string.Empty)).Where(h => h.Key.Length > 0)]
            : [];

    private static IResult Json(Action<Utf8JsonWriter> body) => new JsonBodyResult(body);

    /// <summary>SESv2's REST-JSON error: the code in <c>x-amzn-ErrorType</c>, <c>{"message": …}</c> in the body.</summary>
    internal static IResult Error(SendingException e) => e.Code switch
    {
        SendingException.MessageRejected => Error(400, "MessageRejected", e.Message),
        SendingException.NotFound => Error(404, "NotFoundException", e.Message),
        SendingException.AlreadyExists => Error(400, "AlreadyExistsException", e.Message),
        _ => Error(400, "BadRequestException", e.Message),
    };

    internal static IResult Error(int status, string code, string message) => new JsonBodyResult(w => w.WriteString("message", message), status, code);

    private sealed class JsonBodyResult(Action<Utf8JsonWriter> body, int status = 200, string? errorType = null) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.StatusCode = status;
            response.ContentType = "application/json";
            if (errorType is not null)
            {
                response.Headers["x-amzn-ErrorType"] = errorType;
            }

            await using var writer = new Utf8JsonWriter(response.Body);
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
            await writer.FlushAsync(httpContext.RequestAborted);
        }
    }
}
