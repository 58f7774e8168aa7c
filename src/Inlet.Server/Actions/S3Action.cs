using Inlet.Mail;
using Inlet.Rules;
using Inlet.Smtp;
using Inlet.Storage;

namespace Inlet.Actions;

/// <summary>
/// S3: stores the message as actions see it (with SES's headers and any AddHeader headers) at
/// <c>prefix + messageId</c> in a bucket of the blob store. Messages over 40 MB bounce, as SES does.
/// </summary>
internal sealed class S3ActionHandler(BlobStores blobs) : IActionHandler
{
    /// <summary>SES's limit for the S3 action, headers included.</summary>
    public const long MaxMessageSize = 40L * 1024 * 1024;

    public async Task<ActionResult> ExecuteAsync(ReceiptAction action, ActionContext context, CancellationToken cancellationToken)
    {
        var s3 = (S3ReceiptAction)action;
        var key = ObjectKey(s3.ObjectKeyPrefix, context.Message.Id);
        var receipt = ReceiptActionFields.For(s3, context.Message.Id);
        if (context.Content.Length > MaxMessageSize)
        {
            return new ActionResult(ActionOutcome.Continue)
            {
                Detail = $"message of {context.Content.Length} octets is over the S3 action's {MaxMessageSize}: it bounces",
                Receipt = receipt,
                Bounce = new BounceRequest(new SmtpReply(552, "5.3.4", "Message too large for the S3 action (40 MB)"), string.Empty),
            };
        }

        if (!await blobs.Buckets.ContainerExistsAsync(s3.BucketName, cancellationToken))
        {
            return ActionResult.Fail($"Could not write to bucket: {s3.BucketName} (the bucket does not exist)");
        }

        await using (var source = await context.Content.OpenReadAsync(cancellationToken))
        await using (var writer = await blobs.Buckets.CreateAsync(s3.BucketName, key, cancellationToken))
        {
            await source.CopyToAsync(writer.Stream, cancellationToken);
            await writer.CommitAsync(cancellationToken);
        }

        return ActionResult.Ok($"s3://{s3.BucketName}/{key} ({context.Content.Length} octets)", receipt);
    }

    /// <summary>
    /// The object key: prefix and message id. Real SES notifications show a '/' between them when the prefix does
    /// not end with one (prefix "mail" → "mail/&lt;id&gt;"); with no prefix the key is the message id.
    /// </summary>
    public static string ObjectKey(string? prefix, string messageId) =>
        string.IsNullOrEmpty(prefix) ? messageId
        : prefix.EndsWith('/') ? prefix + messageId
        : prefix + "/" + messageId;
}
