using System.Reflection;
using System.Text.Json.Serialization;
using Inlet.Rules;

namespace Inlet.Tests;

public class ReceiptActionKindsTests
{
    /// <summary>The JSON discriminators are attributes, so they cannot read the catalogue: they must agree with it.</summary>
    [Fact]
    public void Catalogue_NamesTheSameMembersAsTheJsonDiscriminators()
    {
        var derived = typeof(ReceiptAction).GetCustomAttributes<JsonDerivedTypeAttribute>()
            .Select(a => (a.DerivedType, Member: (string)a.TypeDiscriminator!)).OrderBy(a => a.Member, StringComparer.Ordinal).ToList();
        var kinds = ReceiptActionKinds.All.Select(k => (DerivedType: k.RecordType, k.Member)).OrderBy(k => k.Member, StringComparer.Ordinal).ToList();
        Assert.Equal(derived, kinds);
    }

    /// <summary>What the API writes of each kind of action, read back, is the same action.</summary>
    [Fact]
    public void Fields_ReadBack_GiveTheSameAction()
    {
        ReceiptAction[] samples =
        [
            new S3ReceiptAction("bucket", "in/", null, "arn:aws:sns:us-east-1:123456789012:t"),
            new BounceReceiptAction("550", "no such user", "mailer@example.com", "5.1.1"),
            new LambdaReceiptAction("fn", LambdaInvocationType.RequestResponse),
            new SnsReceiptAction("arn:aws:sns:us-east-1:123456789012:t", SnsEncoding.Base64),
            new StopReceiptAction("RuleSet", "arn:aws:sns:us-east-1:123456789012:t"),
            new AddHeaderReceiptAction("X-Test", "1"),
            new WorkmailReceiptAction("arn:aws:workmail:us-east-1:123456789012:organization/m-1"),
        ];
        Assert.Equal(ReceiptActionKinds.All.Select(k => k.RecordType), samples.Select(a => a.GetType()));
        foreach (var action in samples)
        {
            var kind = ReceiptActionKinds.Of(action);
            var fields = kind.Fields(action).Where(f => f.Value is not null).ToDictionary(f => f.Name, f => f.Value);
            var read = ReceiptValidation.Create(action.MemberName, fields, out var error);
            Assert.Null(error);
            Assert.Equal(action, read);
            Assert.Equal(kind.Type, action.Type);
        }
    }

    [Fact]
    public void Create_RefusesAnUnknownMember_NamingTheKnownOnes()
    {
        ReceiptValidation.Create("ConnectAction", new Dictionary<string, string?>(), out var error);
        Assert.Equal("Unsupported action type: ConnectAction (S3Action, BounceAction, LambdaAction, SNSAction, StopAction, AddHeaderAction, WorkmailAction)", error?.Message);
    }

    [Fact]
    public void Create_KeepsTheFirstRefusal()
    {
        ReceiptValidation.Create("LambdaAction", new Dictionary<string, string?> { ["InvocationType"] = "Sometimes" }, out var error);
        Assert.Equal("ValidationError", error?.Code);
        Assert.Contains("'LambdaAction.InvocationType'", error?.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NotifiedTopicArn_IsTheTopicArnField()
    {
        Assert.Equal("arn:t", new SnsReceiptAction("arn:t").NotifiedTopicArn);
        Assert.Equal("arn:t", new LambdaReceiptAction("fn", TopicArn: "arn:t").NotifiedTopicArn);
        Assert.Null(new AddHeaderReceiptAction("X-Test", "1").NotifiedTopicArn);
        Assert.Null(new S3ReceiptAction("bucket").NotifiedTopicArn);
    }
}
