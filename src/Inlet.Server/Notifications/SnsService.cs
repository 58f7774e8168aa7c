using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Inlet.Functions;
using Inlet.Mail;
using Inlet.Storage;

namespace Inlet.Notifications;

/// <summary>An SNS refusal: its Query API error code, HTTP status and message.</summary>
internal sealed class SnsException(string code, int status, string message) : Exception(message)
{
    public string Code { get; } = code;

    public int Status { get; } = status;

    public static SnsException NotFound(string message) => new("NotFound", 404, message);

    public static SnsException InvalidParameter(string message) => new("InvalidParameter", 400, message);
}

/// <summary>
/// Inlet's SNS: topics and subscriptions (kept in the state store, cached here), the confirmation handshake, and
/// publishing — which writes one durable delivery per confirmed subscription for the dispatcher to send.
/// It is also what SES actions publish their receipt notifications through.
/// </summary>
internal sealed partial class SnsService(
    ITopicStore state,
    IDeliveryStore deliveryStore,
    SnsSigner signer,
    PublicEndpoints endpoints,
    FunctionRegistry functions,
    TimeProvider time,
    string region,
    string account) : INotificationPublisher
{
    public const string ReceiptSubject = "Amazon SES Email Receipt Notification";
    private const int MaxMessageBytes = 262_144;

    private static readonly string[] s_topicAttributes = ["DisplayName", "SignatureVersion", "DeliveryPolicy", "Policy", "TracingConfig", "KmsMasterKeyId"];
    private static readonly string[] s_subscriptionAttributes = ["RawMessageDelivery", "DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy", "SubscriptionRoleArn"];

    private readonly ConcurrentDictionary<string, TopicRecord> _topics = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SubscriptionRecord> _subscriptions = new(StringComparer.Ordinal);

    /// <summary>Raised when deliveries were written, so that the dispatcher wakes up.</summary>
    public event Action? DeliveriesAdded;

    public string Region { get; } = region;

    public string Account { get; } = account;

    public string SigningCertUrl => $"{endpoints.BaseUrl}/{signer.CertificateFileName}";

    /// <summary>Reads the topics and subscriptions from the store: at start, and when another node changed them.</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var topics = await state.ListTopicsAsync(cancellationToken);
        var subscriptions = await state.ListSubscriptionsAsync(cancellationToken);
        _topics.ReplaceWith(topics.ToDictionary(t => t.Arn, StringComparer.Ordinal));
        _subscriptions.ReplaceWith(subscriptions.ToDictionary(s => s.Arn, StringComparer.Ordinal));
    }

    public IReadOnlyList<TopicRecord> Topics => [.. _topics.Values.OrderBy(t => t.Arn, StringComparer.Ordinal)];

    public IReadOnlyList<SubscriptionRecord> Subscriptions => [.. _subscriptions.Values.OrderBy(s => s.CreatedAt).ThenBy(s => s.Arn, StringComparer.Ordinal)];

    public TopicRecord? FindTopic(string arn) => _topics.TryGetValue(arn, out var topic) ? topic : null;

    public TopicRecord GetTopic(string arn) => FindTopic(arn) ?? throw SnsException.NotFound("Topic does not exist");

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,256}$")]
    private static partial Regex TopicNamePattern();

    public string TopicArn(string name) => $"arn:aws:sns:{Region}:{Account}:{name}";

    /// <summary>CreateTopic: idempotent for the same name.</summary>
    public async Task<string> CreateTopicAsync(string? name, IReadOnlyDictionary<string, string> attributes, CancellationToken cancellationToken)
    {
        if (name is null || !TopicNamePattern().IsMatch(name))
        {
            throw SnsException.InvalidParameter("Invalid parameter: Topic Name (1 to 256 letters, digits, hyphens and underscores)");
        }

        var arn = TopicArn(name);
        var merged = new Dictionary<string, string>(_topics.TryGetValue(arn, out var existing) ? existing.Attributes : new Dictionary<string, string>());
        foreach (var (key, value) in attributes)
        {
            CheckTopicAttribute(key, value);
            merged[key] = value;
        }

        var topic = new TopicRecord(arn, name, merged, existing?.CreatedAt ?? time.GetUtcNow());
        await state.PutTopicAsync(topic, cancellationToken);
        _topics[arn] = topic;
        return arn;
    }

    public async Task DeleteTopicAsync(string arn, CancellationToken cancellationToken)
    {
        await state.DeleteTopicAsync(arn, cancellationToken);
        _topics.TryRemove(arn, out _);
        foreach (var subscription in _subscriptions.Values.Where(s => s.TopicArn == arn).ToList())
        {
            _subscriptions.TryRemove(subscription.Arn, out _);
        }
    }

    private static void CheckTopicAttribute(string name, string value)
    {
        if (!s_topicAttributes.Contains(name))
        {
            throw SnsException.InvalidParameter($"Invalid parameter: AttributeName (unknown topic attribute {name}; known: {string.Join(", ", s_topicAttributes)})");
        }

        if (name == "SignatureVersion" && value is not ("1" or "2"))
        {
            throw SnsException.InvalidParameter("Invalid parameter: SignatureVersion must be 1 or 2");
        }

        if (name == "DeliveryPolicy")
        {
            DeliveryPolicy.Parse(value, out var error);
            if (error is not null)
            {
                throw SnsException.InvalidParameter(error);
            }
        }
    }

    public async Task SetTopicAttributeAsync(string arn, string? name, string? value, CancellationToken cancellationToken)
    {
        var topic = GetTopic(arn);
        if (name is null)
        {
            throw SnsException.InvalidParameter("Invalid parameter: AttributeName is required");
        }

        CheckTopicAttribute(name, value ?? string.Empty);
        var attributes = new Dictionary<string, string>(topic.Attributes) { [name] = value ?? string.Empty };
        var updated = topic with { Attributes = attributes };
        await state.PutTopicAsync(updated, cancellationToken);
        _topics[arn] = updated;
    }

    /// <summary>GetTopicAttributes: the stored attributes and the ones SNS computes.</summary>
    public Dictionary<string, string> TopicAttributes(string arn)
    {
        var topic = GetTopic(arn);
        var subscriptions = _subscriptions.Values.Where(s => s.TopicArn == arn).ToList();
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["TopicArn"] = arn,
            ["Owner"] = Account,
            ["DisplayName"] = string.Empty,
            ["SubscriptionsConfirmed"] = subscriptions.Count(s => s.Confirmed).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SubscriptionsPending"] = subscriptions.Count(s => !s.Confirmed).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SubscriptionsDeleted"] = "0",
            ["EffectiveDeliveryPolicy"] = topic.Attributes.TryGetValue("DeliveryPolicy", out var policy) && policy.Length > 0 ? policy : DeliveryPolicy.DefaultEffectiveJson,
            ["Policy"] = "{\"Version\":\"2008-10-17\",\"Id\":\"__default_policy_ID\",\"Statement\":[{\"Sid\":\"__default_statement_ID\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},\"Action\":[\"SNS:Publish\",\"SNS:Subscribe\"],\"Resource\":\"" + arn + "\",\"Condition\":{\"StringEquals\":{\"AWS:SourceOwner\":\"" + Account + "\"}}}]}",
        };
        foreach (var (key, value) in topic.Attributes)
        {
            attributes[key] = value;
        }

        return attributes;
    }

    /// <summary>Subscribe: http and https subscriptions wait for their endpoint to confirm; lambda ones are confirmed at once.</summary>
    public async Task<SubscriptionRecord> SubscribeAsync(string topicArn, string? protocol, string? endpoint, IReadOnlyDictionary<string, string> attributes, CancellationToken cancellationToken)
    {
        GetTopic(topicArn);
        if (protocol is not ("http" or "https" or "lambda"))
        {
            throw SnsException.InvalidParameter($"Invalid parameter: Protocol '{protocol}' is not supported by Inlet (http, https, lambda)");
        }

        if (string.IsNullOrEmpty(endpoint))
        {
            throw SnsException.InvalidParameter("Invalid parameter: Endpoint is required");
        }

        if (protocol is "http" or "https" && (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme != protocol))
        {
            throw SnsException.InvalidParameter($"Invalid parameter: Endpoint must be an {protocol} URL (got '{endpoint}')");
        }

        if (protocol == "lambda" && functions.Resolve(endpoint) is null)
        {
            throw SnsException.InvalidParameter($"Invalid parameter: Endpoint: {functions.NotFoundMessage(endpoint)}");
        }

        foreach (var (key, value) in attributes)
        {
            if (!s_subscriptionAttributes.Contains(key))
            {
                throw SnsException.InvalidParameter($"Invalid parameter: Attributes Reason: Unknown attribute {key}");
            }

            if (key == "RawMessageDelivery" && value is not ("true" or "false"))
            {
                throw SnsException.InvalidParameter("Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value [" + value + "]. Must be true or false.");
            }
        }

        // Subscribing the same endpoint twice returns the existing subscription, as SNS does.
        var existing = _subscriptions.Values.FirstOrDefault(s => s.TopicArn == topicArn && s.Protocol == protocol && s.Endpoint == endpoint);
        if (existing is not null)
        {
            return existing;
        }

        var subscription = new SubscriptionRecord
        {
            Arn = $"{topicArn}:{Guid.NewGuid()}",
            TopicArn = topicArn,
            Protocol = protocol,
            Endpoint = endpoint,
            Confirmed = protocol == "lambda",
            Token = Convert.ToHexString(RandomNumberGenerator.GetBytes(64)).ToLowerInvariant(),
            Attributes = attributes,
            CreatedAt = time.GetUtcNow(),
        };
        await state.PutSubscriptionAsync(subscription, cancellationToken);
        _subscriptions[subscription.Arn] = subscription;
        if (!subscription.Confirmed)
        {
            await SendConfirmationAsync(subscription, "SubscriptionConfirmation", $"You have chosen to subscribe to the topic {topicArn}.\nTo confirm the subscription, visit the SubscribeURL included in this message.", cancellationToken);
        }

        return subscription;
    }

    public async Task<string> ConfirmSubscriptionAsync(string? topicArn, string? token, CancellationToken cancellationToken)
    {
        if (topicArn is null || token is null)
        {
            throw SnsException.InvalidParameter("Invalid parameter: TopicArn and Token are required");
        }

        GetTopic(topicArn);
        var subscription = _subscriptions.Values.FirstOrDefault(s => s.TopicArn == topicArn && CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(s.Token), System.Text.Encoding.ASCII.GetBytes(token)))
            ?? throw SnsException.InvalidParameter("Invalid parameter: Token");
        if (!subscription.Confirmed)
        {
            subscription = subscription with { Confirmed = true };
            await state.PutSubscriptionAsync(subscription, cancellationToken);
            _subscriptions[subscription.Arn] = subscription;
        }

        return subscription.Arn;
    }

    public async Task UnsubscribeAsync(string? arn, CancellationToken cancellationToken)
    {
        if (arn is null || !_subscriptions.TryRemove(arn, out var subscription))
        {
            if (arn is null)
            {
                throw SnsException.InvalidParameter("Invalid parameter: SubscriptionArn is required");
            }

            return;
        }

        await state.DeleteSubscriptionAsync(arn, cancellationToken);
        if (subscription.Protocol is "http" or "https" && subscription.Confirmed)
        {
            await SendConfirmationAsync(subscription, "UnsubscribeConfirmation", $"You have chosen to deactivate subscription {arn}.\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message.", cancellationToken);
        }
    }

    public IReadOnlyList<SubscriptionRecord> SubscriptionsOf(string topicArn)
    {
        GetTopic(topicArn);
        return [.. Subscriptions.Where(s => s.TopicArn == topicArn)];
    }

    private string SignatureVersion(string topicArn) =>
        FindTopic(topicArn)?.Attributes.TryGetValue("SignatureVersion", out var version) == true && version == "2" ? "2" : "1";

    private async Task SendConfirmationAsync(SubscriptionRecord subscription, string type, string text, CancellationToken cancellationToken)
    {
        var message = new SnsMessage
        {
            Type = type,
            MessageId = Guid.NewGuid().ToString(),
            Token = subscription.Token,
            TopicArn = subscription.TopicArn,
            Message = text,
            SubscribeUrl = $"{endpoints.BaseUrl}/?Action=ConfirmSubscription&TopicArn={Uri.EscapeDataString(subscription.TopicArn)}&Token={subscription.Token}",
            Timestamp = time.GetUtcNow(),
        };
        var version = SignatureVersion(subscription.TopicArn);
        var body = SnsMessages.HttpBody(message, version, signer.Sign(SnsMessages.StringToSign(message), version), SigningCertUrl);
        await deliveryStore.InsertDeliveriesAsync([NewDelivery(subscription, message, body)], cancellationToken);
        DeliveriesAdded?.Invoke();
    }

    /// <summary>Publish: one durable delivery per confirmed subscription; returns the message id.</summary>
    public async Task<string> PublishAsync(string topicArn, string? message, string? subject, CancellationToken cancellationToken)
    {
        GetTopic(topicArn);
        if (message is null || message.Length == 0)
        {
            throw SnsException.InvalidParameter("Invalid parameter: Empty message");
        }

        if (System.Text.Encoding.UTF8.GetByteCount(message) > MaxMessageBytes)
        {
            throw SnsException.InvalidParameter("Invalid parameter: Message too long (at most 262144 bytes)");
        }

        if (subject is not null && (subject.Length is 0 or >= 100 || subject.Any(char.IsControl)))
        {
            throw SnsException.InvalidParameter("Invalid parameter: Subject (fewer than 100 characters, no line breaks or control characters)");
        }

        var messageId = Guid.NewGuid().ToString();
        var now = time.GetUtcNow();
        var version = SignatureVersion(topicArn);
        var deliveries = new List<DeliveryRecord>();
        foreach (var subscription in _subscriptions.Values.Where(s => s.TopicArn == topicArn && s.Confirmed))
        {
            var sns = new SnsMessage
            {
                Type = "Notification",
                MessageId = messageId,
                TopicArn = topicArn,
                Subject = subject,
                Message = message,
                Timestamp = now,
                UnsubscribeUrl = $"{endpoints.BaseUrl}/?Action=Unsubscribe&SubscriptionArn={Uri.EscapeDataString(subscription.Arn)}",
            };
            var signature = signer.Sign(SnsMessages.StringToSign(sns), version);
            var raw = subscription.Attributes.TryGetValue("RawMessageDelivery", out var r) && r == "true";
            var body = subscription.Protocol == "lambda"
                ? SnsMessages.LambdaEvent(sns, subscription.Arn, version, signature, SigningCertUrl)
                : raw ? message : SnsMessages.HttpBody(sns, version, signature, SigningCertUrl);
            deliveries.Add(NewDelivery(subscription, sns, body));
        }

        if (deliveries.Count > 0)
        {
            await deliveryStore.InsertDeliveriesAsync(deliveries, cancellationToken);
            DeliveriesAdded?.Invoke();
        }

        return messageId;
    }

    private DeliveryRecord NewDelivery(SubscriptionRecord subscription, SnsMessage message, string body) => new()
    {
        Id = Guid.NewGuid().ToString(),
        SubscriptionArn = subscription.Arn,
        Endpoint = subscription.Endpoint,
        TopicArn = subscription.TopicArn,
        MessageType = message.Type,
        MessageId = message.MessageId,
        Body = body,
        CreatedAt = message.Timestamp,
        NextAttemptAt = message.Timestamp,
    };

    /// <summary>What SES actions publish: the receipt notification as the message, with SES's subject.</summary>
    public async Task<PublishResult> PublishReceiptAsync(string topicArn, SesNotification notification, CancellationToken cancellationToken)
    {
        if (FindTopic(topicArn) is null)
        {
            throw new InvalidOperationException($"SNS topic {topicArn} does not exist");
        }

        var json = JsonSerializer.Serialize(notification, SesJsonContext.Default.SesNotification);
        var id = await PublishAsync(topicArn, json, ReceiptSubject, cancellationToken);
        var count = _subscriptions.Values.Count(s => s.TopicArn == topicArn && s.Confirmed);
        return new PublishResult(true, $"published to {topicArn} as message {id} for {count} confirmed subscription(s)");
    }

    /// <summary>Topics of the configuration file, made at start (existing ones are kept).</summary>
    public async Task ApplyTopicsAsync(IEnumerable<TopicDeclaration> topics, CancellationToken cancellationToken)
    {
        foreach (var topic in topics)
        {
            await CreateTopicAsync(topic.Name, topic.Attributes, cancellationToken);
        }
    }

    /// <summary>
    /// Subscriptions of the configuration file; made once the endpoints are bound, because a confirmation request
    /// carries a SubscribeURL that must reach this server.
    /// </summary>
    public async Task ApplySubscriptionsAsync(IEnumerable<TopicDeclaration> topics, CancellationToken cancellationToken)
    {
        foreach (var topic in topics)
        {
            foreach (var subscription in topic.Subscriptions)
            {
                await SubscribeAsync(TopicArn(topic.Name), subscription.Protocol, subscription.Endpoint, subscription.Attributes, cancellationToken);
            }
        }
    }
}
