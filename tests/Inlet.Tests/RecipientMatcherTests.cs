using Inlet.Rules;

namespace Inlet.Tests;

public class RecipientMatcherTests
{
    [Theory]
    [InlineData("user@example.com", "user@example.com", true)]
    [InlineData("user@example.com", "USER@Example.COM", true)]
    [InlineData("user@example.com", "user+news@example.com", true)]
    [InlineData("user@example.com", "user+@example.com", true)]
    [InlineData("user@example.com", "other@example.com", false)]
    [InlineData("user@example.com", "user@sub.example.com", false)]
    [InlineData("user@example.com", "xuser@example.com", false)]
    [InlineData("user+label@example.com", "user+label@example.com", true)]
    [InlineData("user+label@example.com", "user@example.com", false)]
    [InlineData("user+label@example.com", "user+other@example.com", false)]
    [InlineData("example.com", "anyone@example.com", true)]
    [InlineData("example.com", "anyone@EXAMPLE.com", true)]
    [InlineData("example.com", "anyone@sub.example.com", false)]
    [InlineData("example.com", "anyone@notexample.com", false)]
    [InlineData(".example.com", "anyone@sub.example.com", true)]
    [InlineData(".example.com", "anyone@a.b.example.com", true)]
    [InlineData(".example.com", "anyone@example.com", false)]
    [InlineData(".example.com", "anyone@badexample.com", false)]
    public void Matches_Condition_FollowsSesSemantics(string condition, string recipient, bool expected)
    {
        Assert.Equal(expected, RecipientMatcher.Matches(condition, recipient));
    }

    [Fact]
    public void RuleMatches_NoConditions_MatchesEverything()
    {
        var rule = new ReceiptRule { Name = "all", Enabled = true };
        Assert.True(RecipientMatcher.RuleMatches(rule, "anyone@anywhere.test"));
    }

    [Fact]
    public void Decide_DisabledRule_DoesNotAccept()
    {
        var set = new ReceiptRuleSet { Name = "s", Rules = [new ReceiptRule { Name = "r", Enabled = false, Recipients = ["example.com"] }] };
        Assert.Equal(RecipientDecision.NoMatchingRule, RecipientAcceptance.Decide(set, "a@example.com", isSecure: false));
    }

    [Fact]
    public void Decide_NoActiveSet_Refuses()
    {
        Assert.Equal(RecipientDecision.NoMatchingRule, RecipientAcceptance.Decide(null, "a@example.com", false));
    }

    [Fact]
    public void Decide_EveryMatchRequiresTls_RefusesWithoutTlsAndAcceptsWithIt()
    {
        var set = new ReceiptRuleSet
        {
            Name = "s",
            Rules = [new ReceiptRule { Name = "r", Enabled = true, TlsPolicy = TlsPolicy.Require, Recipients = ["example.com"] }],
        };
        Assert.Equal(RecipientDecision.TlsRequired, RecipientAcceptance.Decide(set, "a@example.com", false));
        Assert.Equal(RecipientDecision.Accept, RecipientAcceptance.Decide(set, "a@example.com", true));
    }

    [Fact]
    public void Decide_OneMatchWithOptionalTls_Accepts()
    {
        var set = new ReceiptRuleSet
        {
            Name = "s",
            Rules =
            [
                new ReceiptRule { Name = "strict", Enabled = true, TlsPolicy = TlsPolicy.Require, Recipients = ["example.com"] },
                new ReceiptRule { Name = "lax", Enabled = true, Recipients = ["a@example.com"] },
            ],
        };
        Assert.Equal(RecipientDecision.Accept, RecipientAcceptance.Decide(set, "a@example.com", false));
        Assert.Equal(RecipientDecision.TlsRequired, RecipientAcceptance.Decide(set, "b@example.com", false));
    }
}
