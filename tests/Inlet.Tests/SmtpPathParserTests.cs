using Inlet.Smtp;

namespace Inlet.Tests;

public class SmtpPathParserTests
{
    [Theory]
    [InlineData("FROM:<a@example.com>", "a@example.com")]
    [InlineData("FROM: <a@example.com>", "a@example.com")]
    [InlineData("from:<a.b+c@sub.example.com>", "a.b+c@sub.example.com")]
    [InlineData("FROM:<@relay.example:a@example.com>", "a@example.com")]
    [InlineData("FROM:<\"quoted name\"@example.com>", "\"quoted name\"@example.com")]
    [InlineData("FROM:<a@[192.0.2.1]>", "a@[192.0.2.1]")]
    [InlineData("FROM:<δοκιμή@παράδειγμα.δοκιμή>", "δοκιμή@παράδειγμα.δοκιμή")]
    public void Parse_ValidPath_GivesTheAddress(string argument, string address)
    {
        var result = SmtpPathParser.Parse(argument, "FROM:", allowNullPath: true);
        Assert.True(result.Ok);
        Assert.Equal(address, result.Address);
    }

    [Fact]
    public void Parse_NullPath_IsAllowedForMailOnly()
    {
        Assert.True(SmtpPathParser.Parse("FROM:<>", "FROM:", allowNullPath: true).IsNullPath);
        Assert.False(SmtpPathParser.Parse("TO:<>", "TO:", allowNullPath: false).Ok);
    }

    [Theory]
    [InlineData("FROM:a@example.com")]
    [InlineData("FROM:<a@example.com")]
    [InlineData("FROM:<a>")]
    [InlineData("FROM:<@example.com>")]
    [InlineData("FROM:<a@>")]
    [InlineData("FROM:<a..b@example.com>")]
    [InlineData("FROM:<a@-example.com>")]
    [InlineData("FROM:<a b@example.com>")]
    [InlineData("FROM:<a@example.com>SIZE=1")]
    public void Parse_InvalidPath_Fails(string argument)
    {
        Assert.False(SmtpPathParser.Parse(argument, "FROM:", allowNullPath: true).Ok);
    }

    [Fact]
    public void Parse_Parameters_AreSplitAndUpperCased()
    {
        var result = SmtpPathParser.Parse("FROM:<a@b.c> size=1000 BODY=8BITMIME SMTPUTF8", "FROM:", true);
        Assert.True(result.Ok);
        Assert.Equal([new SmtpParameter("SIZE", "1000"), new SmtpParameter("BODY", "8BITMIME"), new SmtpParameter("SMTPUTF8", null)], result.Parameters);
    }

    [Fact]
    public void MailboxSyntax_LocalPartOver64Octets_Fails()
    {
        Assert.False(MailboxSyntax.IsValid(new string('a', 65) + "@example.com"));
        Assert.True(MailboxSyntax.IsValid(new string('a', 64) + "@example.com"));
    }
}
