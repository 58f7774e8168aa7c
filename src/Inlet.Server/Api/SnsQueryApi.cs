using System.Xml;
using Inlet.Management;
using Microsoft.AspNetCore.Http;

namespace Inlet.Api;

/// <summary>SNS's Query API (2010-03-31): topics, subscriptions and Publish, with SNS's XML and errors.</summary>
internal static class SnsQueryApi
{
    public const string Namespace = "http://sns.amazonaws.com/doc/2010-03-31/";
    public const string Version = "2010-03-31";
    private const int PageSize = 100;

    public static readonly HashSet<string> Actions =
    [
        "CreateTopic", "DeleteTopic", "ListTopics", "GetTopicAttributes", "SetTopicAttributes", "Subscribe", "ConfirmSubscription",
        "Unsubscribe", "ListSubscriptions", "ListSubscriptionsByTopic", "Publish", "GetSubscriptionAttributes",
    ];

    /// <summary>The two unsigned operations that SubscribeURL and UnsubscribeURL reach with a GET.</summary>
    public static bool IsUnauthenticated(QueryRequest query) => query.Action is "ConfirmSubscription" or "Unsubscribe";

    public static async Task<IResult> HandleAsync(QueryRequest q, TopicsService sns, CancellationToken ct)
    {
        try
        {
            var action = q.Action!;
            switch (action)
            {
                case "CreateTopic":
                {
                    var attributes = q.Map("Attributes");
                    var arn = await sns.CreateTopicAsync(q.Get("Name"), attributes, ct);
                    return QueryXml.Ok(action, Namespace, w => w.WriteElementString("TopicArn", arn));
                }

                case "DeleteTopic":
                    await sns.DeleteTopicAsync(Required(q, "TopicArn"), ct);
                    return QueryXml.Ok(action, Namespace, null);

                case "ListTopics":
                {
                    var (page, next) = Page(sns.Topics, q.Get("NextToken"));
                    return QueryXml.Ok(action, Namespace, w =>
                    {
                        QueryXml.Members(w, "Topics", page, (x, t) => x.WriteElementString("TopicArn", t.Arn));
                        if (next is not null)
                        {
                            w.WriteElementString("NextToken", next);
                        }
                    });
                }

                case "GetTopicAttributes":
                {
                    var attributes = sns.TopicAttributes(Required(q, "TopicArn"));
                    return QueryXml.Ok(action, Namespace, w => QueryXml.Entries(w, "Attributes", attributes));
                }

                case "SetTopicAttributes":
                    await sns.SetTopicAttributeAsync(Required(q, "TopicArn"), q.Get("AttributeName"), q.Get("AttributeValue"), ct);
                    return QueryXml.Ok(action, Namespace, null);

                case "Subscribe":
                {
                    var subscription = await sns.SubscribeAsync(Required(q, "TopicArn"), q.Get("Protocol"), q.Get("Endpoint"), q.Map("Attributes"), ct);
                    var arn = subscription.Confirmed || q.GetBool("ReturnSubscriptionArn") ? subscription.Arn : "pending confirmation";
                    return QueryXml.Ok(action, Namespace, w => w.WriteElementString("SubscriptionArn", arn));
                }

                case "ConfirmSubscription":
                {
                    var arn = await sns.ConfirmSubscriptionAsync(q.Get("TopicArn"), q.Get("Token"), ct);
                    return QueryXml.Ok(action, Namespace, w => w.WriteElementString("SubscriptionArn", arn));
                }

                case "Unsubscribe":
                    await sns.UnsubscribeAsync(q.Get("SubscriptionArn"), ct);
                    return QueryXml.Ok(action, Namespace, null);

                case "ListSubscriptions":
                case "ListSubscriptionsByTopic":
                {
                    var all = action == "ListSubscriptions" ? sns.Subscriptions : sns.SubscriptionsOf(Required(q, "TopicArn"));
                    var (page, next) = Page(all, q.Get("NextToken"));
                    return QueryXml.Ok(action, Namespace, w =>
                    {
                        QueryXml.Members(w, "Subscriptions", page, (x, s) =>
                        {
                            x.WriteElementString("SubscriptionArn", s.Confirmed ? s.Arn : "PendingConfirmation");
                            x.WriteElementString("Owner", sns.Account);
                            x.WriteElementString("Protocol", s.Protocol);
                            x.WriteElementString("Endpoint", s.Endpoint);
                            x.WriteElementString("TopicArn", s.TopicArn);
                        });
                        if (next is not null)
                        {
                            w.WriteElementString("NextToken", next);
                        }
                    });
                }

                case "GetSubscriptionAttributes":
                {
                    var arn = Required(q, "SubscriptionArn");
                    var s = sns.Subscriptions.FirstOrDefault(x => x.Arn == arn) ?? throw TopicException.NotFound("Subscription does not exist");
                    var attributes = new Dictionary<string, string>(s.Attributes)
                    {
                        ["SubscriptionArn"] = s.Arn,
                        ["TopicArn"] = s.TopicArn,
                        ["Protocol"] = s.Protocol,
                        ["Endpoint"] = s.Endpoint,
                        ["Owner"] = sns.Account,
                        ["PendingConfirmation"] = s.Confirmed ? "false" : "true",
                        ["ConfirmationWasAuthenticated"] = "true",
                        ["RawMessageDelivery"] = s.Attributes.TryGetValue("RawMessageDelivery", out var raw) ? raw : "false",
                    };
                    return QueryXml.Ok(action, Namespace, w => QueryXml.Entries(w, "Attributes", attributes));
                }

                case "Publish":
                {
                    var topic = q.Get("TopicArn") ?? q.Get("TargetArn") ?? throw TopicException.InvalidParameter("Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter");
                    if (q.Get("MessageStructure") is { } structure && structure != "json")
                    {
                        throw TopicException.InvalidParameter("Invalid parameter: MessageStructure");
                    }

                    var message = q.Get("Message");
                    if (q.Get("MessageStructure") == "json")
                    {
                        message = DefaultOf(message);
                    }

                    var id = await sns.PublishAsync(topic, message, q.Get("Subject"), ct);
                    return QueryXml.Ok(action, Namespace, w => w.WriteElementString("MessageId", id));
                }

                default:
                    return QueryXml.Error(Namespace, "InvalidAction", $"The action {action} is not valid for this endpoint.", 400);
            }
        }
        catch (TopicException e)
        {
            return QueryXml.Error(Namespace, e.Code, e.Message, e.Status);
        }
    }

    /// <summary><c>MessageStructure=json</c>: the message is a JSON object whose <c>default</c> string is what is sent.</summary>
    private static string DefaultOf(string? message)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(message ?? string.Empty);
            if (document.RootElement.TryGetProperty("default", out var value) && value.ValueKind == System.Text.Json.JsonValueKind.String)
            {
                return value.GetString()!;
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Reported below.
        }

        throw TopicException.InvalidParameter("Invalid parameter: Message Structure - No default entry in JSON message body");
    }

    private static string Required(QueryRequest q, string name) =>
        q.Get(name) ?? throw TopicException.InvalidParameter($"Invalid parameter: {name} Reason: no value for required parameter");

    private static (IReadOnlyList<T> Page, string? Next) Page<T>(IReadOnlyList<T> all, string? token)
    {
        var start = int.TryParse(token, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 0;
        var page = all.Skip(start).Take(PageSize).ToList();
        return (page, start + PageSize < all.Count ? (start + PageSize).ToString(System.Globalization.CultureInfo.InvariantCulture) : null);
    }
}
