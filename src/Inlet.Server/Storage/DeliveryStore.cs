namespace Inlet.Storage;

/// <summary>One message on its way to one subscription, durable until delivered or given up.</summary>
internal sealed record DeliveryRecord
{
    public required string Id { get; init; }

    public required string SubscriptionArn { get; init; }

    /// <summary>Where it goes: the URL, or the function, as the subscription said when the message was published.</summary>
    public required string Endpoint { get; init; }

    public required string TopicArn { get; init; }

    /// <summary><c>Notification</c>, <c>SubscriptionConfirmation</c> or <c>UnsubscribeConfirmation</c>.</summary>
    public required string MessageType { get; init; }

    public required string MessageId { get; init; }

    /// <summary>What is POSTed (the signed JSON document, or the raw message), or the Lambda event.</summary>
    public required string Body { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public int Attempts { get; init; }

    public DateTimeOffset NextAttemptAt { get; init; }

    /// <summary><c>pending</c>, <c>delivered</c>, <c>failed</c> (gave up) or <c>rejected</c> (the endpoint answered 4xx).</summary>
    public string Status { get; init; } = WorkStatus.Pending;

    public string? LastError { get; init; }

    public DateTimeOffset? DeliveredAt { get; init; }
}

/// <summary>SNS deliveries: the work queue of messages on their way to subscriptions, and their history.</summary>
internal interface IDeliveryStore
{
    /// <summary>The items still to be worked on, as a work queue that several nodes share.</summary>
    IWorkQueue<DeliveryRecord> DeliveryQueue { get; }

    Task InsertDeliveriesAsync(IReadOnlyList<DeliveryRecord> deliveries, CancellationToken cancellationToken);

    /// <summary>Changes a delivery unless another node holds its lease; returns whether it was changed.</summary>
    Task<bool> UpdateDeliveryAsync(DeliveryRecord delivery, CancellationToken cancellationToken);

    /// <summary>Deliveries with the status (all when null), newest first.</summary>
    Task<IReadOnlyList<DeliveryRecord>> ListDeliveriesAsync(string? status, int limit, CancellationToken cancellationToken);
}
