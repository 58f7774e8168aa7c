using System.Text.Json.Serialization;

namespace Inlet.Rules;

/// <summary>
/// One action of a rule: the SES <c>ReceiptAction</c> union, where exactly one member is set. Each action type is
/// a record of its own with the API's field names; what each kind is called and how it is read and written is
/// declared once, in <see cref="ReceiptActionKinds"/> (the JSON discriminators below must name the same members).
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "$type")]
[JsonDerivedType(typeof(S3ReceiptAction), "S3Action")]
[JsonDerivedType(typeof(BounceReceiptAction), "BounceAction")]
[JsonDerivedType(typeof(LambdaReceiptAction), "LambdaAction")]
[JsonDerivedType(typeof(SnsReceiptAction), "SNSAction")]
[JsonDerivedType(typeof(StopReceiptAction), "StopAction")]
[JsonDerivedType(typeof(AddHeaderReceiptAction), "AddHeaderAction")]
[JsonDerivedType(typeof(WorkmailReceiptAction), "WorkmailAction")]
internal abstract record ReceiptAction
{
    /// <summary>The notification's <c>receipt.action.type</c> value.</summary>
    [JsonIgnore]
    public string Type => ReceiptActionKinds.Of(this).Type;

    /// <summary>The API's member name, such as <c>S3Action</c>.</summary>
    [JsonIgnore]
    public string MemberName => ReceiptActionKinds.Of(this).Member;

    /// <summary>
    /// The SNS topic notified when the action runs, for the types that have one: every action's <c>TopicArn</c> field
    /// names it, the SNS action's too (its notification is what it publishes).
    /// </summary>
    [JsonIgnore]
    public string? NotifiedTopicArn => ReceiptActionKinds.Of(this).Fields(this).FirstOrDefault(f => f.Name == "TopicArn").Value;
}

internal sealed record S3ReceiptAction(string BucketName, string? ObjectKeyPrefix = null, string? KmsKeyArn = null, string? TopicArn = null, string? IamRoleArn = null) : ReceiptAction;

internal sealed record BounceReceiptAction(string SmtpReplyCode, string Message, string Sender, string? StatusCode = null, string? TopicArn = null) : ReceiptAction;

[JsonConverter(typeof(JsonStringEnumConverter<LambdaInvocationType>))]
internal enum LambdaInvocationType
{
    Event,
    RequestResponse,
}

internal sealed record LambdaReceiptAction(string FunctionArn, LambdaInvocationType InvocationType = LambdaInvocationType.Event, string? TopicArn = null) : ReceiptAction;

[JsonConverter(typeof(JsonStringEnumConverter<SnsEncoding>))]
internal enum SnsEncoding
{
    Utf8,
    Base64,
}

internal sealed record SnsReceiptAction(string TopicArn, SnsEncoding Encoding = SnsEncoding.Utf8) : ReceiptAction;

internal sealed record StopReceiptAction(string Scope = "RuleSet", string? TopicArn = null) : ReceiptAction;

internal sealed record AddHeaderReceiptAction(string HeaderName, string HeaderValue) : ReceiptAction;

internal sealed record WorkmailReceiptAction(string OrganizationArn, string? TopicArn = null) : ReceiptAction;
