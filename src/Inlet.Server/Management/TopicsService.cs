using Inlet.Notifications;
using Inlet.Storage;

namespace Inlet.Management;

/// <summary>An SNS refusal: its Query API error code, HTTP status and message.</summary>
internal sealed class TopicException(string code, int status, string message) : Exception(message)
{
    public string Code { get; } = code;

    public int Status { get; } = status;

    public static TopicException NotFound(string message) => From(SnsException.NotFound(message));

    public static TopicException InvalidParameter(string message) => From(SnsException.InvalidParameter(message));

    public static TopicException From(SnsException e) => new(e.Code, e.Status, e.Message);
}

/// <summary>
/// SNS as the APIs call it: topics, subscriptions and their confirmation, Publish, the re-drive of a delivery that
/// gave up, and the certificate messages are signed with. The work is <see cref="SnsService"/>'s and
/// <see cref="DeliveryDispatcher"/>'s; their refusals come out as <see cref="TopicException"/>.
/// </summary>
internal sealed class TopicsService(SnsService sns, SnsSigner signer, DeliveryDispatcher deliveries)
{
    /// <summary>The account that owns every topic and subscription.</summary>
    public string Account => sns.Account;

    /// <summary>Where the signing certificate is served, beside the Query endpoint, and its PEM text.</summary>
    public string CertificateFileName => signer.CertificateFileName;

    public string CertificatePem => signer.CertificatePem;

    public IReadOnlyList<TopicRecord> Topics => sns.Topics;

    public IReadOnlyList<SubscriptionRecord> Subscriptions => sns.Subscriptions;

    /// <summary>Deliveries with the status (all when null), newest first.</summary>
    public Task<IReadOnlyList<DeliveryRecord>> ListDeliveriesAsync(string? status, int limit, CancellationToken cancellationToken) =>
        deliveries.ListAsync(status, limit, cancellationToken);

    public IReadOnlyList<SubscriptionRecord> SubscriptionsOf(string topicArn) => Run(() => sns.SubscriptionsOf(topicArn));

    public Task<string> CreateTopicAsync(string? name, IReadOnlyDictionary<string, string> attributes, CancellationToken cancellationToken) =>
        RunAsync(() => sns.CreateTopicAsync(name, attributes, cancellationToken));

    public Task DeleteTopicAsync(string arn, CancellationToken cancellationToken) =>
        RunAsync(() => sns.DeleteTopicAsync(arn, cancellationToken));

    public IReadOnlyDictionary<string, string> TopicAttributes(string arn) => Run(() => sns.TopicAttributes(arn));

    public Task SetTopicAttributeAsync(string arn, string? name, string? value, CancellationToken cancellationToken) =>
        RunAsync(() => sns.SetTopicAttributeAsync(arn, name, value, cancellationToken));

    public Task<SubscriptionRecord> SubscribeAsync(string topicArn, string? protocol, string? endpoint, IReadOnlyDictionary<string, string> attributes, CancellationToken cancellationToken) =>
        RunAsync(() => sns.SubscribeAsync(topicArn, protocol, endpoint, attributes, cancellationToken));

    public Task<string> ConfirmSubscriptionAsync(string? topicArn, string? token, CancellationToken cancellationToken) =>
        RunAsync(() => sns.ConfirmSubscriptionAsync(topicArn, token, cancellationToken));

    public Task UnsubscribeAsync(string? arn, CancellationToken cancellationToken) =>
        RunAsync(() => sns.UnsubscribeAsync(arn, cancellationToken));

    /// <summary>Publish: one durable delivery per confirmed subscription; returns the message id.</summary>
    public Task<string> PublishAsync(string topicArn, string? message, string? subject, CancellationToken cancellationToken) =>
        RunAsync(() => sns.PublishAsync(topicArn, message, subject, cancellationToken));

    /// <summary>Sends a failed or rejected delivery again; false when there is no such delivery that gave up.</summary>
    public Task<bool> RedriveDeliveryAsync(string id, CancellationToken cancellationToken) => deliveries.RedriveAsync(id, cancellationToken);

    private static T Run<T>(Func<T> operation) => Refusals.Translate<SnsException, T>(operation, TopicException.From);

    private static Task RunAsync(Func<Task> operation) => Refusals.TranslateAsync<SnsException>(operation, TopicException.From);

    private static Task<T> RunAsync<T>(Func<Task<T>> operation) => Refusals.TranslateAsync<SnsException, T>(operation, TopicException.From);
}
