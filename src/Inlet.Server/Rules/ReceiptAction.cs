using System.Text.Json.Serialization;

namespace Inlet.Rules;

/// <summary>
/// One action of a rule: the SES <c>ReceiptAction</c> union, where exactly one member is set. Each action type is
/// a record of its own with the API's field names.
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
    public string Type => this switch
    {
        S3ReceiptAction => "S3",
        BounceReceiptAction => "Bounce",
        LambdaReceiptAction => "Lambda",
        SnsReceiptAction => "SNS",
        StopReceiptAction => "Stop",
        AddHeaderReceiptAction => "AddHeader",
        _ => "WorkMail",
    };

    /// <summary>The API's member name, such as <c>S3Action</c>.</summary>
    [JsonIgnore]
    public string MemberName => Type switch
    {
        "SNS" => "SNSAction",
        "WorkMail" => "WorkmailAction",
        var type => type + "Action",
    };

    /// <summary>The SNS topic notified when the action runs, for the types that have one.</summary>
    [JsonIgnore]
    public string? NotifiedTopicArn => this switch
    {
        S3ReceiptAction a => a.TopicArn,
        BounceReceiptAction a => a.TopicArn,
        LambdaReceiptAction a => a.TopicArn,
        SnsReceiptAction a => a.TopicArn,
        StopReceiptAction a => a.TopicArn,
        WorkmailReceiptAction a => a.TopicArn,
        _ => null,
    };
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
