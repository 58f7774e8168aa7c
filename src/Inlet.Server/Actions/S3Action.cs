using Inlet.Mail;
using Inlet.Rules;
using Inlet.Storage;

namespace Inlet.Actions;

/// <summary>
/// S3: stores the message as actions see it (with SES's headers and any AddHeader headers) at
/// <c>prefix + messageId</c> in a bucket of the blob store. Messages over 40 MB bounce, as SES does.
/// </summary>
internal sealed class S3ActionHandler(BlobStores blobs, BounceMessages bounces, ReceiptNotifier notifier) : IActionHandler
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
            var rejection = new ActionRejection(552, "5.3.4", "Message too large for the S3 action (40 MB)");
            await bounces.SendAsync(rejection, string.Empty, context, cancellationToken);
            await notifier.NotifyAsync(receipt, context, cancellationToken);
            return new ActionResult(ActionOutcome.Continue)
            {
                Detail = $"message of {context.Content.Length} octets is over the S3 action's {MaxMessageSize}: it bounces",
                Rejection = rejection,
            };
        }

        if (!await blobs.Buckets.ContainerExistsAsync(s3.BucketName, cancellationToken))
        {
            return ActionResult.Fail($"Could not write to bucket: {s3.BucketName} (the bucket does not exist)");
        }

        // A journaled object is durable with the message's next saved write (the step's, or inline the end's).
        var committed = Task.CompletedTask;
        var stored = await context.StepAsync("store", async ct =>
        {
            await using (var source = await context.Content.OpenReadAsync(ct))
            await using (var writer = await blobs.Buckets.CreateAsync(s3.BucketName, key, ct))
            {
                await source.CopyToAsync(writer.Stream, ct);
                committed = await writer.StartCommitAsync(ct);
            }

            return new CompletedStep("store") { Detail = $"s3://{s3.BucketName}/{key} ({context.Content.Length} octets)" };
        }, cancellationToken);
        await context.SettleAsync(committed);
        await notifier.NotifyAsync(receipt, context, cancellationToken);
        return ActionResult.Ok(stored.Detail);
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
