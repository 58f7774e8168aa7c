using Inlet.Authentication;
using Inlet.Hosting;

namespace Inlet.Tests;

public class AuthenticationTests
{
    [Theory]
    [InlineData("mail.example.com", "example.com")]
    [InlineData("a.b.example.co.uk", "example.co.uk")]
    [InlineData("example.com", "example.com")]
    [InlineData("co.uk", "co.uk")]
    [InlineData("sub.unknowntld", "sub.unknowntld")]
    public void OrganizationalDomain_BuiltInList_IsSuffixPlusOneLabel(string domain, string expected) =>
        Assert.Equal(expected, PublicSuffixList.BuiltIn.OrganizationalDomain(domain));

    [Fact]
    public void OrganizationalDomain_WildcardAndExceptionRules_FollowThePslAlgorithm()
    {
        var path = Path.GetTempFileName();
        File.WriteAllText(path, "// comment\njp\n*.kawasaki.jp\n!city.kawasaki.jp\n");
        var list = PublicSuffixList.Load(path);
        File.Delete(path);

        Assert.Equal("a.b.kawasaki.jp", list.OrganizationalDomain("x.a.b.kawasaki.jp"));
        Assert.Equal("city.kawasaki.jp", list.OrganizationalDomain("www.city.kawasaki.jp"));
        Assert.Equal(path, list.Source);
    }

    [Theory]
    [InlineData("v=DMARC1; p=reject; sp=none; pct=50; adkim=s", "reject", "none", 50, true)]
    [InlineData("v=DMARC1;p=quarantine", "quarantine", null, 100, false)]
    public void DmarcRecord_WellFormed_IsParsed(string text, string policy, string? subdomain, int percent, bool strictDkim)
    {
        var record = DmarcEvaluator.Parse(text);
        Assert.NotNull(record);
        Assert.Equal(policy, record.Policy);
        Assert.Equal(subdomain, record.SubdomainPolicy);
        Assert.Equal(percent, record.Percent);
        Assert.Equal(strictDkim, record.StrictDkim);
    }

    [Theory]
    [InlineData("v=DMARC1; p=maybe")]
    [InlineData("p=reject; v=DMARC1")]
    [InlineData("v=DMARC1")]
    public void DmarcRecord_WithoutAUsablePolicy_IsNoRecord(string text) => Assert.Null(DmarcEvaluator.Parse(text));

    [Theory]
    [InlineData("Pass", "PASS")]
    [InlineData("Fail", "FAIL")]
    [InlineData("SoftFail", "FAIL")]
    [InlineData("Neutral", "GRAY")]
    [InlineData("None", "GRAY")]
    [InlineData("TempError", "PROCESSING_FAILED")]
    [InlineData("PermError", "PROCESSING_FAILED")]
    public void SpfVerdict_EachResult_MapsAsDocumented(string result, string status) =>
        Assert.Equal(status, Verdicts.ForSpf(Enum.Parse<SpfResult>(result)).Status);

    [Theory]
    [InlineData("SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: True ; 1000.0 / 5.0\r\n\r\nGTUBE", "FAIL")]
    [InlineData("SPAMD/1.1 0 EX_OK\r\nSpam: False ; 4.9 / 5.0\r\n\r\n", "PASS")]
    [InlineData("SPAMD/1.0 76 Bad header line: x", "PROCESSING_FAILED")]
    public void SpamdReply_ScoreAgainstThreshold_GivesTheVerdict(string reply, string status) =>
        Assert.Equal(status, new SpamdClient(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 783), 5.0).Interpret(reply).Verdict.Status);

    [Theory]
    [InlineData("stream: OK", "PASS")]
    [InlineData("stream: Eicar-Test-Signature FOUND", "FAIL")]
    [InlineData("INSTREAM size limit exceeded. ERROR", "PROCESSING_FAILED")]
    public void ClamdReply_Each_GivesTheVerdict(string reply, string status) =>
        Assert.Equal(status, ClamdClient.Interpret(reply).Verdict.Status);

    [Fact]
    public void Configuration_AuthenticationSection_IsRead()
    {
        var options = ConfigurationLoader.Load("""
            Authentication:
              DnsServers: [127.0.0.1:5353, "::1", 10.0.0.1]
              Spamd: 127.0.0.1:783
              SpamThreshold: 3.5
              Clamd: /run/clamav/clamd.ctl
            """).Authentication;

        Assert.Equal(["127.0.0.1:5353", "[::1]:53", "10.0.0.1:53"], options.DnsServers.Select(e => e.ToString()).ToArray());
        Assert.Equal("127.0.0.1:783", options.Spamd);
        Assert.Equal(3.5, options.SpamThreshold);
        Assert.Equal("/run/clamav/clamd.ctl", options.Clamd);
    }

    [Fact]
    public void Configuration_BadAuthenticationSettings_AreEachNamed()
    {
        var error = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load("""
            Authentication:
              DnsServers: [resolver.example]
              Spamd: localhost
              SpamThreshold: 5000
              PublicSuffixList: /nonexistent/list.dat
            """));

        Assert.Contains("Authentication.DnsServers[0]: 'resolver.example'", error.Message);
        Assert.Contains("Authentication.Spamd: 'localhost'", error.Message);
        Assert.Contains("Authentication.SpamThreshold: 5000", error.Message);
        Assert.Contains("Authentication.PublicSuffixList: /nonexistent/list.dat does not exist", error.Message);
    }
}
