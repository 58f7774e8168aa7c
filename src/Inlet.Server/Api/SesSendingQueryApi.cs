using System.Globalization;
using Inlet.Mail;
using Inlet.Management;

namespace Inlet.Api;

/// <summary>
/// SES's sending and identity operations over the Query protocol (2010-12-01): SendEmail, SendRawEmail,
/// SendBounce, and the identities that senders must belong to.
/// </summary>
internal static class SesSendingQueryApi
{
    public static readonly IReadOnlySet<string> Actions = new HashSet<string>(StringComparer.Ordinal)
    {
        "SendEmail", "SendRawEmail", "SendBounce", "VerifyEmailIdentity", "VerifyEmailAddress", "VerifyDomainIdentity",
        "ListIdentities", "GetIdentityVerificationAttributes", "DeleteIdentity",
    };

    private const int MaxListItems = 1000;

    /// <summary>The answer to a send; the outbox item it made is noted for the trace of a function that sent it.</summary>
    private static Microsoft.AspNetCore.Http.IResult Sent(Microsoft.AspNetCore.Http.HttpContext context, string action, string id)
    {
        context.Items[AwsOperation.OutcomeItem] = $"outbox {id}";
        return QueryXml.Ok(action, SesQueryApi.Namespace, w => w.WriteElementString("MessageId", id));
    }

    public static async Task<Microsoft.AspNetCore.Http.IResult> HandleAsync(QueryRequest q, SendingService sending, Microsoft.AspNetCore.Http.HttpContext context, CancellationToken ct)
    {
        var action = q.Action!;
        var ns = SesQueryApi.Namespace;
        try
        {
            switch (action)
            {
                case "SendEmail":
                {
                    var id = await sending.SendAsync(new SesComposition
                    {
                        Source = Required(q, "Source", "source"),
                        To = q.List("Destination.ToAddresses"),
                        Cc = q.List("Destination.CcAddresses"),
                        Bcc = q.List("Destination.BccAddresses"),
                        ReplyTo = q.List("ReplyToAddresses"),
                        Subject = new SesText(Required(q, "Message.Subject.Data", "message.subject.data"), q.Get("Message.Subject.Charset")),
                        Text = Text(q, "Message.Body.Text"),
                        Html = Text(q, "Message.Body.Html"),
                        ReturnPath = q.Get("ReturnPath"),
                    }, ct);
                    return Sent(context, action, id);
                }

                case "SendRawEmail":
                {
                    byte[] raw;
                    try
                    {
                        raw = Convert.FromBase64String(Required(q, "RawMessage.Data", "rawMessage.data"));
                    }
                    catch (FormatException)
                    {
                        throw new SendingException(SendingException.InvalidParameterValue, "RawMessage.Data must be base64-encoded.");
                    }

                    var destinations = q.List("Destinations");
                    var id = await sending.SendRawAsync(raw, q.Get("Source"), destinations.Count > 0 ? destinations : null, SendingService.MaxRawSizeV1, ct);
                    return Sent(context, action, id);
                }

                case "SendBounce":
                {
                    var id = await sending.SendBounceAsync(ParseBounce(q), ct);
                    return Sent(context, action, id);
                }

                case "VerifyEmailIdentity" or "VerifyEmailAddress":
                {
                    var address = Required(q, "EmailAddress", "emailAddress");
                    if (!address.Contains('@') || SendingService.AddressOf(address) != address)
                    {
                        throw new SendingException(SendingException.InvalidParameterValue, $"Invalid email address<{address}>.");
                    }

                    await sending.AddIdentityAsync(address, isDomain: false, ct);
                    return QueryXml.Ok(action, ns, action == "VerifyEmailAddress" ? null : _ => { });
                }

                case "VerifyDomainIdentity":
                {
                    var domain = Required(q, "Domain", "domain");
                    if (!SendingService.IsDomainName(domain))
                    {
                        throw new SendingException(SendingException.InvalidParameterValue, $"Invalid domain name {domain}.");
                    }

                    var identity = await sending.AddIdentityAsync(domain, isDomain: true, ct);
                    return QueryXml.Ok(action, ns, w => w.WriteElementString("VerificationToken", identity.VerificationToken ?? string.Empty));
                }

                case "ListIdentities":
                {
                    var type = q.Get("IdentityType");
                    if (type is not (null or "EmailAddress" or "Domain"))
                    {
                        throw new SendingException("ValidationError", $"1 validation error detected: Value '{type}' at 'identityType' failed to satisfy constraint: Member must satisfy enum value set: [EmailAddress, Domain]");
                    }

                    var max = int.TryParse(q.Get("MaxItems"), NumberStyles.None, CultureInfo.InvariantCulture, out var m) ? Math.Clamp(m, 1, MaxListItems) : MaxListItems;
                    var start = int.TryParse(q.Get("NextToken"), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : 0;
                    var all = sending.Identities().Where(i => type is null || i.IsDomain == (type == "Domain")).ToList();
                    var page = all.Skip(start).Take(max).ToList();
                    return QueryXml.Ok(action, ns, w =>
                    {
                        QueryXml.Members(w, "Identities", page, (x, i) => x.WriteString(i.Name));
                        if (start + max < all.Count)
                        {
                            w.WriteElementString("NextToken", (start + max).ToString(CultureInfo.InvariantCulture));
                        }
                    });
                }

                case "GetIdentityVerificationAttributes":
                {
                    // Identities the account does not have are left out of the map, as SES leaves them out.
                    var found = q.List("Identities").Select(sending.FindIdentity).OfType<SendingIdentity>().ToList();
                    return QueryXml.Ok(action, ns, w =>
                    {
                        w.WriteStartElement("VerificationAttributes");
                        foreach (var identity in found)
                        {
                            w.WriteStartElement("entry");
                            w.WriteElementString("key", identity.Name);
                            w.WriteStartElement("value");
                            w.WriteElementString("VerificationStatus", "Success");
                            if (identity.VerificationToken is { } token)
                            {
                                w.WriteElementString("VerificationToken", token);
                            }

                            w.WriteEndElement();
                            w.WriteEndElement();
                        }

                        w.WriteEndElement();
                    });
                }

                case "DeleteIdentity":
                    // SES answers success for an identity it does not have; the file's and the rules' stay.
                    await sending.DeleteIdentityAsync(Required(q, "Identity", "identity"), ct);
                    return QueryXml.Ok(action, ns, _ => { });
                default:
                    return QueryXml.Error(ns, "InvalidAction", $"The action {action} is not valid for this endpoint.", 400);
            }
        }
        catch (SendingException e)
        {
            return QueryXml.Error(ns, e.Code, e.Message, 400);
        }
    }

    private static string Required(QueryRequest q, string name, string member) =>
        q.Get(name) ?? throw new SendingException("ValidationError", $"1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null");

    private static SesText? Text(QueryRequest q, string prefix) =>
        q.Get(prefix + ".Data") is { } data ? new SesText(data, q.Get(prefix + ".Charset")) : null;

    private static SesBounceRequest ParseBounce(QueryRequest q)
    {
        var recipients = new List<SesBouncedRecipient>();
        for (var i = 1; q.Get($"BouncedRecipientInfoList.member.{i}.Recipient") is { } recipient; i++)
        {
            var prefix = $"BouncedRecipientInfoList.member.{i}.RecipientDsnFields";
            DsnRecipient? fields = null;
            if (q.Get(prefix + ".Action") is { } dsnAction)
            {
                fields = new DsnRecipient(q.Get(prefix + ".FinalRecipient") ?? string.Empty, dsnAction, Required(q, prefix + ".Status", "recipientDsnFields.status"), q.Get(prefix + ".DiagnosticCode"))
                {
                    RemoteMta = q.Get(prefix + ".RemoteMta"),
                    LastAttemptDate = Date(q.Get(prefix + ".LastAttemptDate")),
                    ExtensionFields = Extensions(q, prefix + ".ExtensionFields"),
                };
            }

            recipients.Add(new SesBouncedRecipient(recipient, q.Get($"BouncedRecipientInfoList.member.{i}.BounceType"), fields));
        }

        return new SesBounceRequest
        {
            OriginalMessageId = Required(q, "OriginalMessageId", "originalMessageId"),
            BounceSender = Required(q, "BounceSender", "bounceSender"),
            Explanation = q.Get("Explanation"),
            ReportingMta = q.Get("MessageDsn.ReportingMta"),
            ArrivalDate = Date(q.Get("MessageDsn.ArrivalDate")),
            ExtensionFields = Extensions(q, "MessageDsn.ExtensionFields"),
            Recipients = recipients,
        };
    }

    private static List<KeyValuePair<string, string>> Extensions(QueryRequest q, string prefix)
    {
        var list = new List<KeyValuePair<string, string>>();
        for (var i = 1; q.Get($"{prefix}.member.{i}.Name") is { } name; i++)
        {
            list.Add(new(name, q.Get($"{prefix}.member.{i}.Value") ?? string.Empty));
        }

        return list;
    }

    private static DateTimeOffset? Date(string? text) =>
        text is not null && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date) ? date : null;
}
