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
