namespace Inlet.Storage;

/// <summary>An SNS topic and its attributes.</summary>
internal sealed record TopicRecord(string Arn, string Name, IReadOnlyDictionary<string, string> Attributes, DateTimeOffset CreatedAt);

/// <summary>An SNS subscription: <c>PendingConfirmation</c> until its endpoint confirms it.</summary>
internal sealed record SubscriptionRecord
{
    public required string Arn { get; init; }

    public required string TopicArn { get; init; }

    public required string Protocol { get; init; }

    public required string Endpoint { get; init; }

    public bool Confirmed { get; init; }

    public required string Token { get; init; }

    public IReadOnlyDictionary<string, string> Attributes { get; init; } = new Dictionary<string, string>();

    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>SNS topics and their subscriptions.</summary>
internal interface ITopicStore
{
    Task PutTopicAsync(TopicRecord topic, CancellationToken cancellationToken);

    /// <summary>Deletes the topic and its subscriptions.</summary>
    Task DeleteTopicAsync(string arn, CancellationToken cancellationToken);

    Task<IReadOnlyList<TopicRecord>> ListTopicsAsync(CancellationToken cancellationToken);

    Task PutSubscriptionAsync(SubscriptionRecord subscription, CancellationToken cancellationToken);

    Task DeleteSubscriptionAsync(string arn, CancellationToken cancellationToken);

    Task<IReadOnlyList<SubscriptionRecord>> ListSubscriptionsAsync(CancellationToken cancellationToken);
}
