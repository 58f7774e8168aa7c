namespace Inlet.Rules;

/// <summary>
/// One kind of receipt action: its <c>receipt.action.type</c> (<c>S3</c>), the API's member name (<c>S3Action</c>),
/// its record type, its fields with the API's names and spellings in the API's order, and how it is built from
/// those fields and checked as SES checks it.
/// </summary>
internal sealed class ReceiptActionKind(
    string type,
    string member,
    Type recordType,
    IReadOnlyList<string> fieldNames,
    Func<ReceiptAction, IEnumerable<(string Name, string? Value)>> fields,
    Func<ActionFields, ReceiptAction> create)
{
    public string Type => type;

    public string Member => member;

    public Type RecordType => recordType;

    public IReadOnlyList<string> FieldNames => fieldNames;

    public static ReceiptActionKind Of<T>(string type, string member, (string Name, Func<T, string?> Value)[] fields, Func<ActionFields, T> create)
        where T : ReceiptAction =>
        new(type, member, typeof(T), [.. fields.Select(f => f.Name)], a => fields.Select(f => (f.Name, f.Value((T)a))), f => create(f));

    /// <summary>The action's fields as the API writes them; a field without a value is null.</summary>
    public IEnumerable<(string Name, string? Value)> Fields(ReceiptAction action) => fields(action);

    /// <summary>Builds the action from fields whose names are all <see cref="FieldNames"/>; a refusal lands in <see cref="ActionFields.Error"/>.</summary>
    public ReceiptAction Create(ActionFields read) => create(read);
}

/// <summary>
/// The fields an action is built from (<c>S3Action</c>, {BucketName: …}), and the first refusal met while reading and
/// checking them: later problems do not replace it.
/// </summary>
internal sealed class ActionFields(string member, IReadOnlyDictionary<string, string?> fields)
{
    public ReceiptError? Error { get; private set; }

    /// <summary>The field's value; null when it is absent or empty.</summary>
    public string? Get(string name) => fields.TryGetValue(name, out var v) && !string.IsNullOrEmpty(v) ? v : null;

    /// <summary>The field's value as given, empty included; null when it is absent.</summary>
    public string? Raw(string name) => fields.TryGetValue(name, out var v) ? v : null;

    /// <summary>The field's value; empty, with the refusal noted, when it is absent or empty.</summary>
    public string Required(string name)
    {
        var v = Get(name);
        if (v is null)
        {
            Check(new ReceiptError("ValidationError", $"1 validation error detected: {member}.{name} is required"));
        }

        return v ?? string.Empty;
    }

    /// <summary>Notes a refusal unless one was noted before.</summary>
    public void Check(ReceiptError? error) => Error ??= error;

    /// <summary>The field's value, which must be one of <paramref name="allowed"/>; the first when it is absent.</summary>
    public string OneOf(string name, params string[] allowed)
    {
        var value = Get(name) ?? allowed[0];
        if (!allowed.Contains(value, StringComparer.Ordinal))
        {
            Check(new ReceiptError("ValidationError", $"1 validation error detected: Value '{value}' at '{member}.{name}' failed to satisfy constraint: Member must satisfy enum value set: [{string.Join(", ", allowed)}]"));
        }

        return value;
    }
}

/// <summary>
/// The SES <c>ReceiptAction</c> union, declared once: every kind of action Inlet reads, in the API's order. The API's
/// Query parameters, the configuration file, the action's type and member names and the API's answers all read it
/// here; the records themselves are in <c>ReceiptAction.cs</c>.
/// </summary>
internal static class ReceiptActionKinds
{
    public static readonly IReadOnlyList<ReceiptActionKind> All =
    [
        ReceiptActionKind.Of<S3ReceiptAction>(
            "S3",
            "S3Action",
            [("BucketName", a => a.BucketName), ("ObjectKeyPrefix", a => a.ObjectKeyPrefix), ("KmsKeyArn", a => a.KmsKeyArn), ("TopicArn", a => a.TopicArn), ("IamRoleArn", a => a.IamRoleArn)],
            f =>
            {
                var bucket = f.Required("BucketName");
                f.Check(ReceiptValidation.CheckBucketName(bucket));
                f.Check(ReceiptValidation.CheckObjectKeyPrefix(f.Get("ObjectKeyPrefix")));
                return new S3ReceiptAction(bucket, f.Get("ObjectKeyPrefix"), f.Get("KmsKeyArn"), f.Get("TopicArn"), f.Get("IamRoleArn"));
            }),
        ReceiptActionKind.Of<BounceReceiptAction>(
            "Bounce",
            "BounceAction",
            [("SmtpReplyCode", a => a.SmtpReplyCode), ("StatusCode", a => a.StatusCode), ("Message", a => a.Message), ("Sender", a => a.Sender), ("TopicArn", a => a.TopicArn)],
            f =>
            {
                var bounce = new BounceReceiptAction(f.Required("SmtpReplyCode"), f.Required("Message"), f.Required("Sender"), f.Get("StatusCode"), f.Get("TopicArn"));
                f.Check(ReceiptValidation.CheckBounce(bounce));
                return bounce;
            }),
        ReceiptActionKind.Of<LambdaReceiptAction>(
            "Lambda",
            "LambdaAction",
            [("FunctionArn", a => a.FunctionArn), ("InvocationType", a => a.InvocationType.ToString()), ("TopicArn", a => a.TopicArn)],
            f =>
            {
                var invocation = f.OneOf("InvocationType", "Event", "RequestResponse");
                return new LambdaReceiptAction(f.Required("FunctionArn"), invocation == "RequestResponse" ? LambdaInvocationType.RequestResponse : LambdaInvocationType.Event, f.Get("TopicArn"));
            }),
        ReceiptActionKind.Of<SnsReceiptAction>(
            "SNS",
            "SNSAction",
            [("TopicArn", a => a.TopicArn), ("Encoding", a => a.Encoding == SnsEncoding.Base64 ? "Base64" : "UTF-8")],
            f =>
            {
                var encoding = f.OneOf("Encoding", "UTF-8", "Base64");
                return new SnsReceiptAction(f.Required("TopicArn"), encoding == "Base64" ? SnsEncoding.Base64 : SnsEncoding.Utf8);
            }),
        ReceiptActionKind.Of<StopReceiptAction>(
            "Stop",
            "StopAction",
            [("Scope", a => a.Scope), ("TopicArn", a => a.TopicArn)],
            f =>
            {
                var scope = f.Required("Scope");
                f.OneOf("Scope", "RuleSet");
                return new StopReceiptAction(scope, f.Get("TopicArn"));
            }),
        ReceiptActionKind.Of<AddHeaderReceiptAction>(
            "AddHeader",
            "AddHeaderAction",
            [("HeaderName", a => a.HeaderName), ("HeaderValue", a => a.HeaderValue)],
            f =>
            {
                var name = f.Required("HeaderName");
                var value = f.Raw("HeaderValue");
                f.Check(ReceiptValidation.CheckAddHeader(name, value));
                return new AddHeaderReceiptAction(name, value ?? string.Empty);
            }),
        ReceiptActionKind.Of<WorkmailReceiptAction>(
            "WorkMail",
            "WorkmailAction",
            [("OrganizationArn", a => a.OrganizationArn), ("TopicArn", a => a.TopicArn)],
            f => new WorkmailReceiptAction(f.Required("OrganizationArn"), f.Get("TopicArn"))),
    ];

    private static readonly Dictionary<Type, ReceiptActionKind> s_byRecord = All.ToDictionary(k => k.RecordType);

    private static readonly Dictionary<string, ReceiptActionKind> s_byMember = All.ToDictionary(k => k.Member, StringComparer.Ordinal);

    /// <summary>The API's member names, in its order: <c>S3Action, BounceAction, …</c>.</summary>
    public static string MemberNames { get; } = string.Join(", ", All.Select(k => k.Member));

    public static ReceiptActionKind Of(ReceiptAction action) => s_byRecord[action.GetType()];

    public static ReceiptActionKind? ForMember(string member) => s_byMember.GetValueOrDefault(member);
}
