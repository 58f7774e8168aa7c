using Inlet.Mail;

namespace Inlet.Notifications;

/// <summary>The result of publishing to a topic.</summary>
internal sealed record PublishResult(bool Published, string Detail);

/// <summary>Publishes SES receipt notifications to SNS topics.</summary>
internal interface INotificationPublisher
{
    /// <summary>Publishes <paramref name="notification"/> to the topic with SES's subject. Throws when the topic cannot take it now.</summary>
    Task<PublishResult> PublishReceiptAsync(string topicArn, SesNotification notification, CancellationToken cancellationToken);
}

/// <summary>Until SNS topics exist in Inlet: every notification is reported as not sent.</summary>
internal sealed class UnavailableNotificationPublisher : INotificationPublisher
{
    public Task<PublishResult> PublishReceiptAsync(string topicArn, SesNotification notification, CancellationToken cancellationToken) =>
        Task.FromResult(new PublishResult(false, $"notification to {topicArn} not sent: SNS topics are not available in this version of Inlet"));
}
