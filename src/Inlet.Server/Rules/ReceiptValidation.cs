using System.Text.RegularExpressions;

namespace Inlet.Rules;

/// <summary>A refusal in the SES API's terms: its error code and a message that names what was wrong.</summary>
internal sealed record ReceiptError(string Code, string Message);

/// <summary>
/// SES's checks on rule sets, rules, actions and filters, with its limits and error codes, shared by the
/// configuration file and the API.
/// </summary>
internal static partial class ReceiptValidation
{
    public const int MaxRuleSets = 40;
    public const int MaxRulesPerSet = 200;
    public const int MaxActionsPerRule = 10;
    public const int MaxRecipientsPerRule = 100;
    public const int MaxFilters = 100;
    public const int MaxHeaderValueLength = 2048;

    [GeneratedRegex("^[a-zA-Z0-9_.-]+$")]
    private static partial Regex NameCharacters();

    [GeneratedRegex("^[A-Za-z0-9-]{1,50}$")]
    private static partial Regex HeaderNamePattern();

    public static ReceiptError? CheckRuleSetName(string? name, string member = "ruleSetName") => CheckName(name, member, "ruleSetName");

    public static ReceiptError? CheckRuleName(string? name, string member = "rule.name") => CheckName(name, member, "ruleName");

    public static ReceiptError? CheckFilterName(string? name) => CheckName(name, "filter.name", "filterName");

    /// <summary>
    /// Letters, digits, '_', '-' and '.'; first and last alphanumeric; at most 64 characters. SES answers a bad
    /// character with ValidationError and a bad length or edge with InvalidParameterValue.
    /// </summary>
    private static ReceiptError? CheckName(string? name, string member, string what)
    {
        if (string.IsNullOrEmpty(name))
        {
            return new ReceiptError("ValidationError", $"1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must not be null");
        }

        if (!NameCharacters().IsMatch(name))
        {
            return new ReceiptError("ValidationError", $"1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_.-]+$");
        }

        if (name.Length > 64 || !char.IsAsciiLetterOrDigit(name[0]) || !char.IsAsciiLetterOrDigit(name[^1]))
        {
            return new ReceiptError("InvalidParameterValue", $"Not a valid {what}: {name} (start and end with a letter or digit, at most 64 characters)");
        }

        return null;
    }

    public static ReceiptError? CheckRule(ReceiptRule rule)
    {
        if (CheckRuleName(rule.Name) is { } nameError)
        {
            return nameError;
        }

        if (rule.Recipients.Length > MaxRecipientsPerRule)
        {
            return new ReceiptError("LimitExceeded", $"Rule {rule.Name} has {rule.Recipients.Length} recipients; at most {MaxRecipientsPerRule} are allowed");
        }

        foreach (var recipient in rule.Recipients)
        {
            if (string.IsNullOrWhiteSpace(recipient) || recipient.Contains(' ') || recipient.EndsWith('@') || recipient.StartsWith('@'))
            {
                return new ReceiptError("InvalidParameterValue", $"Invalid recipient in rule {rule.Name}: '{recipient}' (an address, a domain, or a domain with a leading dot)");
            }
        }

        if (rule.Actions.Length > MaxActionsPerRule)
        {
            return new ReceiptError("LimitExceeded", $"Rule {rule.Name} has {rule.Actions.Length} actions; at most {MaxActionsPerRule} are allowed");
        }

        return null;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$")]
    private static partial Regex BucketNamePattern();

    /// <summary>
    /// S3 bucket names, including the legacy us-east-1 form (upper case and underscores, up to 255 characters) that
    /// older accounts and AWS's own examples ("MyBucket") use; never a path, never an IP address.
    /// </summary>
    public static ReceiptError? CheckBucketName(string? bucket)
    {
        if (bucket is null || !BucketNamePattern().IsMatch(bucket) || bucket.Contains("..", StringComparison.Ordinal)
            || System.Net.IPAddress.TryParse(bucket, out _))
        {
            return new ReceiptError("InvalidS3Configuration", $"Invalid bucket name: '{bucket}' (3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit)");
        }

        return null;
    }

    /// <summary>Length of a message id, the last part of every object key the S3 action writes.</summary>
    private const int MessageIdLength = 40;

    /// <summary>
    /// Longest object key, escaped into one file name by the file bucket store (255 octets is the common file
    /// systems' limit; S3's own is 1024 octets of UTF-8, the tighter one is held).
    /// </summary>
    public const int MaxEscapedObjectKey = 255;

    /// <summary>
    /// A prefix whose keys cannot be stored is refused when the rule is made, rather than every message failing its
    /// S3 action for hours of retries.
    /// </summary>
    public static ReceiptError? CheckObjectKeyPrefix(string? prefix)
    {
        if (string.IsNullOrEmpty(prefix))
        {
            return null;
        }

        var key = (prefix.EndsWith('/') ? prefix : prefix + "/") + new string('0', MessageIdLength);
        var escaped = Uri.EscapeDataString(key).Length;
        if (System.Text.Encoding.UTF8.GetByteCount(key) > 1024 || escaped > MaxEscapedObjectKey || prefix.Contains('\0'))
        {
            return new ReceiptError("InvalidS3Configuration", $"Invalid ObjectKeyPrefix: with the {MessageIdLength}-character message id its object keys would be {escaped} characters once escaped, over the {MaxEscapedObjectKey} that the bucket store can hold");
        }

        return null;
    }

    public static ReceiptError? CheckFilter(ReceiptFilter filter)
    {
        if (CheckFilterName(filter.Name) is { } nameError)
        {
            return nameError;
        }

        return IpFilterSet.TryParseCidr(filter.Cidr, out _)
            ? null
            : new ReceiptError("InvalidParameterValue", $"Invalid CIDR block: {filter.Cidr}");
    }

    public static ReceiptError? CheckAddHeader(string? name, string? value)
    {
        if (name is null || !HeaderNamePattern().IsMatch(name))
        {
            return new ReceiptError("InvalidParameterValue", $"Invalid header name: '{name}' (1 to 50 letters, digits and dashes)");
        }

        if (value is null || value.Length > MaxHeaderValueLength || value.Contains('\r') || value.Contains('\n'))
        {
            return new ReceiptError("InvalidParameterValue", $"Invalid header value for {name}: at most {MaxHeaderValueLength} characters, no CR or LF");
        }

        return null;
    }

    /// <summary>Builds one action from the API's member name and its fields (<c>S3Action</c>, {BucketName: …}).</summary>
    public static ReceiptAction Create(string member, IReadOnlyDictionary<string, string?> fields, out ReceiptError? error)
    {
        error = null;
        var kind = ReceiptActionKinds.ForMember(member);
        if (kind is null)
        {
            error = new ReceiptError("InvalidParameterValue", $"Unsupported action type: {member} ({ReceiptActionKinds.MemberNames})");
            return Placeholder;
        }

        foreach (var key in fields.Keys)
        {
            if (!kind.FieldNames.Contains(key, StringComparer.Ordinal))
            {
                error = new ReceiptError("InvalidParameterValue", $"Unknown field {member}.{key} (known: {string.Join(", ", kind.FieldNames)})");
                return Placeholder;
            }
        }

        var read = new ActionFields(member, fields);
        var action = kind.Create(read);
        error = read.Error;
        return action;
    }

    [GeneratedRegex("^[45]\\d\\d$")]
    private static partial Regex ReplyCodePattern();

    [GeneratedRegex("^[45]\\.\\d{1,3}\\.\\d{1,3}$")]
    private static partial Regex StatusCodePattern();

    public static ReceiptError? CheckBounce(BounceReceiptAction bounce)
    {
        if (!ReplyCodePattern().IsMatch(bounce.SmtpReplyCode))
        {
            return new ReceiptError("InvalidParameterValue", $"Invalid SmtpReplyCode: '{bounce.SmtpReplyCode}' (a 4xx or 5xx reply code, RFC 5321)");
        }

        if (bounce.StatusCode is { } status && (!StatusCodePattern().IsMatch(status) || status[0] != bounce.SmtpReplyCode[0]))
        {
            return new ReceiptError("InvalidParameterValue", $"Invalid StatusCode: '{status}' (an RFC 3463 code of the same class as {bounce.SmtpReplyCode}, such as {bounce.SmtpReplyCode[0]}.1.1)");
        }

        if (!MailboxSyntax.IsValid(bounce.Sender))
        {
            return new ReceiptError("InvalidParameterValue", $"Invalid Sender: '{bounce.Sender}' (an email address)");
        }

        return bounce.Message.Contains('\r') || bounce.Message.Contains('\n')
            ? new ReceiptError("InvalidParameterValue", "Invalid Message: no CR or LF")
            : null;
    }

    private static readonly ReceiptAction Placeholder = new StopReceiptAction();
}
