using System.Text;
using System.Text.Json;
using Inlet.Mail;

namespace Inlet.Tests;

public class SesMailBuilderTests
{
    private static string Fixture(string path) =>
        Path.Combine(AppContext.BaseDirectory, "fixtures", path);

    private static byte[] HeaderSection(string message)
    {
        var end = message.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return Encoding.UTF8.GetBytes(message[..(end + 2)]);
    }

    [Fact]
    public void Build_ForwarderFixtureMessage_UnfoldsAsSesDoes()
    {
        var raw = File.ReadAllText(Fixture("aws-lambda-ses-forwarder/message.txt")).ReplaceLineEndings("\r\n");
        var mail = SesMailBuilder.Build(HeaderSection(raw), "81fu1unjk93bm5cb0jlk23fll33spcvf3633l8qg1", "betsy@example.com", new DateTimeOffset(2016, 3, 11, 6, 20, 55, TimeSpan.Zero));

        Assert.Equal("Return-Path", mail.Headers[0].Name);
        Assert.Equal("<betsy@example.com>", mail.Headers[0].Value);
        // The folded Received header reads as one line, as in SES's own headers arrays.
        Assert.Equal("from example.com (example.com [127.0.0.1]) by inbound-smtp.us-west-2.amazonaws.com with SMTP id 81fu1unjk93bm5cb0jlk23fll33spcvf3633l8qg1 for info@example.com; Fri, 11 Mar 2016 06:20:55 +0000 (UTC)", mail.Headers[1].Value);
        Assert.DoesNotContain(mail.Headers, h => h.Value.Contains('\r') || h.Value.Contains('\n') || h.Value.Contains('\t'));

        var common = mail.CommonHeaders;
        Assert.Equal("betsy@example.com", common.ReturnPath);
        Assert.Equal(["Betsy <betsy@example.com>"], common.From!);
        Assert.Equal(["info@example.com"], common.To!);
        Assert.Equal("Test message from Betsy", common.Subject);
        Assert.Equal("Fri, 11 Mar 2016 01:20:54 -0500", common.Date);
        Assert.Equal(["info@example.com"], mail.Destination);
        Assert.Equal("2016-03-11T06:20:55.000Z", mail.Timestamp);
        Assert.False(mail.HeadersTruncated);
    }

    [Fact]
    public void Build_CommonHeaders_PresentExactlyWhenTheMessageHasThem()
    {
        var mail = SesMailBuilder.Build(Encoding.ASCII.GetBytes("From: a@b.test\r\n"), "id", "a@b.test", DateTimeOffset.UnixEpoch);
        var json = JsonSerializer.Serialize(mail, SesJsonContext.Default.SesMail);
        using var document = JsonDocument.Parse(json);
        var common = document.RootElement.GetProperty("commonHeaders");
        Assert.Equal(["from"], common.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["timestamp", "source", "messageId", "destination", "headersTruncated", "headers", "commonHeaders"], document.RootElement.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void Build_EncodedWords_AreDecodedInCommonHeadersOnly()
    {
        var section = "From: =?utf-8?q?Ren=C3=A9e?= <renee@b.test>\r\nTo: \"Doe, John\" <j@b.test>\r\nSubject: =?utf-8?b?w6fDoCB2YQ==?=\r\nReply-To: r@b.test\r\nSender: s@b.test\r\nCc: c1@b.test, C Two <c2@b.test>\r\n"u8.ToArray();
        var mail = SesMailBuilder.Build(section, "id", "a@b.test", DateTimeOffset.UnixEpoch);
        Assert.Equal("çà va", mail.CommonHeaders.Subject);
        Assert.Equal(["Renée <renee@b.test>"], mail.CommonHeaders.From!);
        Assert.Equal(["\"Doe, John\" <j@b.test>"], mail.CommonHeaders.To!);
        Assert.Equal("=?utf-8?b?w6fDoCB2YQ==?=", mail.Headers.Single(h => h.Name == "Subject").Value);
        Assert.Equal("s@b.test", mail.CommonHeaders.Sender);
        Assert.Equal(["r@b.test"], mail.CommonHeaders.ReplyTo!);
        Assert.Equal(["c1@b.test", "C Two <c2@b.test>"], mail.CommonHeaders.Cc!);
        Assert.Equal(["j@b.test", "c1@b.test", "c2@b.test"], mail.Destination);
    }

    [Fact]
    public void Build_HeadersOver10KB_AreTruncated()
    {
        var text = new StringBuilder("Subject: big\r\n");
        for (var i = 0; i < 200; i++)
        {
            text.Append($"X-Filler-{i}: {new string('x', 100)}\r\n");
        }

        var mail = SesMailBuilder.Build(Encoding.ASCII.GetBytes(text.ToString()), "id", "a@b.test", DateTimeOffset.UnixEpoch);
        Assert.True(mail.HeadersTruncated);
        Assert.True(mail.Headers.Count < 200);
        Assert.Equal("big", mail.CommonHeaders.Subject);
    }

    [Theory]
    [InlineData("a\r\n b", "a b")]
    [InlineData("a\r\n\tb", "a b")]
    [InlineData(" a\r\n \t  b\r\n", "a b")]
    [InlineData("a  b", "a  b")]
    public void Unfold_CollapsesFoldingWhiteSpace(string raw, string expected)
    {
        Assert.Equal(expected, SesMailBuilder.Unfold(Encoding.ASCII.GetBytes(raw)));
    }

    [Theory]
    [InlineData("hello world\r\n")]
    [InlineData("no line break at all")]
    public void Parse_SectionWhoseFirstLineIsNotAField_HasNoHeaders(string section)
    {
        var headers = SesMailBuilder.Parse(Encoding.ASCII.GetBytes(section));
        Assert.Empty(headers);
        Assert.Empty(SesMailBuilder.Build(headers, "id", "a@b.test", DateTimeOffset.UnixEpoch).Headers);
    }
}
