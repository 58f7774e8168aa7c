using Inlet.Functions;
using Inlet.Mail;
using Inlet.Rules;

namespace Inlet.Actions;

/// <summary>
/// <c>receipt.action</c> for each action type, as SES writes it in events and notifications — one place for the
/// handlers and for the dry run.
/// </summary>
internal static class ReceiptActionFields
{
    /// <param name="action">The action as the rule declares it.</param>
    /// <param name="messageId">The message's id, for the S3 action's object key.</param>
    /// <param name="functions">
    /// Resolves a Lambda action's function to its full ARN: a rule may name it by bare name or partial ARN, but every
    /// SES event and notification shows <c>arn:aws:lambda:{region}:{account}:function:{name}</c>
    /// (https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-contents.html). Only the Lambda
    /// action needs it.
    /// </param>
    public static SesReceiptAction For(ReceiptAction action, string messageId, FunctionRegistry? functions = null) => action switch
    {
        S3ReceiptAction s3 => new SesReceiptAction
        {
            Type = "S3",
            TopicArn = s3.TopicArn,
            BucketName = s3.BucketName,
            ObjectKeyPrefix = s3.ObjectKeyPrefix ?? string.Empty,
            ObjectKey = S3ActionHandler.ObjectKey(s3.ObjectKeyPrefix, messageId),
        },
        BounceReceiptAction b => new SesReceiptAction { Type = "Bounce", TopicArn = b.TopicArn, SmtpReplyCode = b.SmtpReplyCode, StatusCode = b.StatusCode, Message = b.Message, Sender = b.Sender },
        LambdaReceiptAction l => new SesReceiptAction { Type = "Lambda", TopicArn = l.TopicArn, FunctionArn = functions?.FullArn(l.FunctionArn) ?? l.FunctionArn, InvocationType = l.InvocationType.ToString() },
        // The API spells the encoding UTF-8 / Base64; notifications spell it UTF8 / BASE64.
        SnsReceiptAction n => new SesReceiptAction { Type = "SNS", TopicArn = n.TopicArn, Encoding = n.Encoding == SnsEncoding.Base64 ? "BASE64" : "UTF8" },
        StopReceiptAction s => new SesReceiptAction { Type = "Stop", TopicArn = s.TopicArn },
        WorkmailReceiptAction w => new SesReceiptAction { Type = "WorkMail", TopicArn = w.TopicArn, OrganizationArn = w.OrganizationArn },
        _ => new SesReceiptAction { Type = action.Type },
    };
}
