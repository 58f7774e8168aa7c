using Inlet.Hosting;
using Inlet.Rules;

namespace Inlet.Tests;

public class ConfigurationLoaderTests
{
    [Theory]
    [InlineData("State: { Type: postgres }", "State.ConnectionString: required")]
    [InlineData("State: { Type: postgres, ConnectionString: \"Hots=db;Username=inlet\" }", "State.ConnectionString: not a PostgreSQL connection string")]
    [InlineData("State: { Type: postgres, ConnectionString: \"Username=inlet\" }", "State.ConnectionString: names no Host")]
    [InlineData("State: { Type: mysql }", "State.Type: 'mysql' must be sqlite or postgres")]
    [InlineData("State: { LeaseSeconds: 0.5 }", "State.LeaseSeconds: 0.5 seconds is out of range (3 to 3600)")]
    [InlineData("State: { NodeId: \"a/b\" }", "State.NodeId: 'a/b' must be 1 to 100 characters without '/'")]
    [InlineData("State: { BucketFlushSeconds: 0 }", "State.BucketFlushSeconds: 0 seconds is out of range (0.01 to 3600)")]
    [InlineData("Spool: { Type: s3, Bucket: spool }", "Spool: an s3 spool uses the S3 service of BucketStore")]
    public void Load_BadStateOrSpool_NamesTheSetting(string yaml, string expected)
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load(yaml));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_EnvironmentMaxInvocations_IsReadAndBounded()
    {
        Assert.Equal(100_000, ConfigurationLoader.Load("").FunctionSettings.EnvironmentMaxInvocations);
        Assert.Equal(500, ConfigurationLoader.Load("FunctionSettings: { EnvironmentMaxInvocations: 500 }").FunctionSettings.EnvironmentMaxInvocations);
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load("FunctionSettings: { EnvironmentMaxInvocations: 0 }"));
        Assert.Contains("FunctionSettings.EnvironmentMaxInvocations: 0 is out of range (1 to 2147483647)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_PostgresState_IsRead()
    {
        var options = ConfigurationLoader.Load("State: { Type: postgres, ConnectionString: \"Host=db;Username=inlet\", NodeId: mx1, LeaseSeconds: 10 }");
        Assert.Equal(("postgres", "mx1", TimeSpan.FromSeconds(10)), (options.State.Type, options.State.NodeId, options.State.Lease));
    }

    [Fact]
    public void Load_BucketFlushSeconds_IsRead_AndDefaultsToOne()
    {
        Assert.Equal(TimeSpan.FromSeconds(0.25), ConfigurationLoader.Load("State: { BucketFlushSeconds: 0.25 }").State.BucketFlushInterval);
        Assert.Equal(TimeSpan.FromSeconds(1), ConfigurationLoader.Load("").State.BucketFlushInterval);
    }

    [Fact]
    public void Load_Empty_GivesDefaults()
    {
        var options = ConfigurationLoader.Load("");
        Assert.Equal("127.0.0.1:2525", options.Smtp.Listen);
        Assert.Equal("127.0.0.1:8025", options.Http.Listen);
        Assert.Equal(41_943_040, options.Smtp.MaxMessageSize);
        Assert.Equal("us-east-1", options.Region);
        Assert.Null(options.Receipt.ActiveRuleSetName);
    }

    [Fact]
    public void Load_IdentitiesAndOutbound_AreReadAndBadIdentitiesRefused()
    {
        var options = ConfigurationLoader.Load("""
            Identities: [example.net, me@x.test]
            Outbound: { Host: relay.test, RetryDelay: 5 }
            """);
        Assert.Equal(["example.net", "me@x.test"], options.Identities.ToArray());
        Assert.Equal(TimeSpan.FromSeconds(5), options.Outbound.RetryDelay);

        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load("Identities: [example.net, 'not a domain', '@x.test']"));
        Assert.Contains("Identities[1]: 'not a domain' is neither a domain nor an email address", e.Message);
        Assert.Contains("Identities[2]", e.Message);
        Assert.DoesNotContain("Identities[0]", e.Message);
    }

    [Fact]
    public void Load_SesShapes_BuildsRuleSetsAndFilters()
    {
        var options = ConfigurationLoader.Load("""
            ReceiptFilters:
              - Name: office
                IpFilter: { Policy: Allow, Cidr: 192.0.2.0/24 }
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: store
                    Enabled: true
                    TlsPolicy: Require
                    Recipients: [example.com, .example.com]
                    Actions:
                      - AddHeaderAction: { HeaderName: X-Seen, HeaderValue: "yes" }
                      - S3Action: { BucketName: mail, ObjectKeyPrefix: inbox/ }
                      - StopAction: { Scope: RuleSet }
              - RuleSetName: spare
            ActiveReceiptRuleSet: main
            """);
        var active = options.Receipt.ActiveRuleSet!;
        Assert.Equal("main", active.Name);
        var rule = Assert.Single(active.Rules);
        Assert.Equal(TlsPolicy.Require, rule.TlsPolicy);
        Assert.Equal(["example.com", ".example.com"], rule.Recipients.ToArray());
        Assert.Collection(
            rule.Actions,
            a => Assert.Equal(new AddHeaderReceiptAction("X-Seen", "yes"), a),
            a => Assert.Equal(new S3ReceiptAction("mail", "inbox/"), a),
            a => Assert.IsType<StopReceiptAction>(a));
        Assert.Equal(IpFilterPolicy.Allow, Assert.Single(options.Receipt.Filters).Policy);
    }

    [Fact]
    public void Load_DescribeRuleSetOutput_IsAccepted()
    {
        // The JSON printed by `aws ses describe-active-receipt-rule-set`, pasted into a list.
        var options = ConfigurationLoader.Load("""
            {"ReceiptRuleSets": [{"Metadata": {"Name": "default-rule-set", "CreatedTimestamp": "2016-07-15T16:25:59.607Z"},
              "Rules": [{"Actions": [{"S3Action": {"BucketName": "MyBucket", "ObjectKeyPrefix": "email"}}],
                         "Enabled": true, "Name": "MyRule", "ScanEnabled": true, "TlsPolicy": "Optional"}]}]}
            """);
        Assert.Equal("default-rule-set", options.Receipt.ActiveRuleSetName);
        Assert.True(options.Receipt.ActiveRuleSet!.Rules[0].ScanEnabled);
    }

    [Fact]
    public void Load_UnknownSetting_NamesItAndItsLine()
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load("Smtp:\n  Lisen: 127.0.0.1:25\n"));
        Assert.Contains("unknown setting 'Lisen'", e.Message);
        Assert.Contains("line 2", e.Message);
    }

    [Fact]
    public void Load_ManyMistakes_ReportsEachWithItsPath()
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load("""
            Smtp:
              Listen: nowhere
              MaxMessageSize: 0
              Mode: sometimes
            ReceiptFilters:
              - Name: bad
                IpFilter: { Policy: Allow, Cidr: 300.1.1.1 }
            ReceiptRuleSets:
              - RuleSetName: -bad-
              - RuleSetName: ok
                Rules:
                  - Name: r
                    TlsPolicy: Always
                  - Name: h
                    Actions:
                      - AddHeaderAction: { HeaderName: "Bad Name", HeaderValue: x }
            ActiveReceiptRuleSet: missing
            """));
        Assert.Contains("Smtp.Listen: 'nowhere'", e.Message);
        Assert.Contains("Smtp.MaxMessageSize: 0 is out of range", e.Message);
        Assert.Contains("Smtp.Mode: 'sometimes'", e.Message);
        Assert.Contains("ReceiptFilters[0]: Invalid CIDR block: 300.1.1.1", e.Message);
        Assert.Contains("ReceiptRuleSets[0].RuleSetName: Not a valid ruleSetName: -bad-", e.Message);
        Assert.Contains("ReceiptRuleSets[1].Rules[0].TlsPolicy: 'Always'", e.Message);
        Assert.Contains("ReceiptRuleSets[1].Rules[1].Actions[0].AddHeaderAction: Invalid header name", e.Message);
        Assert.Contains("ActiveReceiptRuleSet: no rule set is named 'missing'", e.Message);
    }

    [Fact]
    public void Load_ActionWithTwoTypes_IsRefused()
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load("""
            ReceiptRuleSets:
              - RuleSetName: s
                Rules:
                  - Name: r
                    Actions:
                      - { StopAction: { Scope: RuleSet }, S3Action: { BucketName: b } }
            """));
        Assert.Contains("exactly one type", e.Message);
    }

    [Fact]
    public void Load_AddHeaderValueWithNewline_IsRefused()
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load("""
            ReceiptRuleSets:
              - RuleSetName: s
                Rules:
                  - Name: r
                    Actions:
                      - AddHeaderAction: { HeaderName: X-A, HeaderValue: "a\r\nBcc: victim@example.com" }
            """));
        Assert.Contains("no CR or LF", e.Message);
    }

    [Fact]
    public void Load_TooManyRecipients_IsLimitExceeded()
    {
        var recipients = string.Join(", ", Enumerable.Range(0, 101).Select(i => $"u{i}@example.com"));
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load($"ReceiptRuleSets:\n  - RuleSetName: s\n    Rules:\n      - Name: r\n        Recipients: [{recipients}]\n"));
        Assert.Contains("at most 100 are allowed", e.Message);
    }

    [Fact]
    public void Load_Json_IsAccepted()
    {
        var options = ConfigurationLoader.Load("""{"Smtp": {"Listen": "0.0.0.0:25", "Mode": "inline"}}""");
        Assert.Equal("0.0.0.0:25", options.Smtp.Listen);
        Assert.Equal(Inlet.Core.ProcessingMode.Inline, options.Smtp.Mode);
    }

    [Fact]
    public void Load_MisspeltRuleKey_SuggestsTheNearestSetting()
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load("""
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: a
                    Recipents: [example.com]
            """));
        Assert.Contains("(line 5", e.Message);
        Assert.Contains("unknown setting 'Recipents' in a ReceiptRule — did you mean 'Recipients'?", e.Message);
    }

    [Fact]
    public void Load_UnknownKeyFarFromAny_ListsTheKnownOnes()
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load("Http:\n  Banana: 1\n"));
        Assert.Contains("unknown setting 'Banana' in a Http (known here: Listen, HttpsListen, AllowedHosts, ConsolePassword)", e.Message);
    }

    [Theory]
    [InlineData("Smtp:\n\tListen: x\n", "line 2", "a tab is used for indentation")]
    [InlineData("Smtp: {Listen: \"127.0.0.1:25}\n", "line 1", "a quoted value is never closed")]
    [InlineData("Smtp:\n  Listen: 127.0.0.1:25\n   Mode: inline\n", "line 3", "a ':' here starts a new key")]
    [InlineData("Smtp:\n  Listen: 127.0.0.1:25\n Mode: inline\n", "line 3", "not indented like the keys around it")]
    [InlineData("ReceiptRuleSets:\n  - RuleSetName: main\n    Rules: foo\n", "line 3", "a list is expected here")]
    [InlineData("Smtp: 25\n", "line 1", "a section of settings")]
    [InlineData("Smtp:\n  MaxRecipients: many\n", "line 2", "'many' is not a number")]
    public void Load_YamlMistake_IsSaidInPlainWordsWithItsLine(string yaml, string line, string words)
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load(yaml));
        Assert.Contains(line, e.Message);
        Assert.Contains(words, e.Message);
        Assert.DoesNotContain("System.", e.Message);
    }

    [Fact]
    public void Load_PastedDescribeActiveRuleSetAtTopLevel_IsTheActiveRuleSet()
    {
        // `aws ses describe-active-receipt-rule-set` output, pasted as the whole file.
        var options = ConfigurationLoader.Load("""
            {"Metadata": {"Name": "default-rule-set", "CreatedTimestamp": "2016-07-15T16:25:59.607Z"},
             "Rules": [{"Actions": [{"S3Action": {"BucketName": "MyBucket", "ObjectKeyPrefix": "email"}}],
                        "Enabled": true, "Name": "MyRule", "ScanEnabled": true, "Recipients": ["example.com"], "TlsPolicy": "Optional"}]}
            """);
        Assert.Equal("default-rule-set", options.Receipt.ActiveRuleSetName);
        Assert.Equal(new S3ReceiptAction("MyBucket", "email"), Assert.Single(options.Receipt.ActiveRuleSet!.Rules[0].Actions));
    }

    [Fact]
    public void Load_TopLevelRulesWithoutMetadata_ExplainsWhereRulesGo()
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load("Rules:\n  - Name: a\n"));
        Assert.Contains("needs Metadata.Name", e.Message);
        Assert.Contains("ReceiptRuleSets", e.Message);
    }

    [Theory]
    [InlineData("Recipents", "Recipients")]
    [InlineData("enabled", "Enabled")]
    [InlineData("Zebra", null)]
    public void Nearest_Misspelling_FindsTheSettingOrNothing(string name, string? expected) =>
        Assert.Equal(expected, ConfigurationLoader.Nearest(name, ["Name", "Enabled", "Recipients", "Actions"]));

    [Fact]
    public void Load_FunctionRole_IsKeptAndAnInvalidOneIsRefused()
    {
        var folder = Path.Combine(Path.GetTempPath(), "inlet-role-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var options = ConfigurationLoader.Load($$"""
                Functions:
                  - { FunctionName: fn, Runtime: nodejs20.x, Code: {{folder}}, Role: "arn:aws:iam::000000000000:role/ses-filter" }
                """);
            Assert.Equal("arn:aws:iam::000000000000:role/ses-filter", options.Functions.Single().Definition.Role);

            var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load($$"""
                Functions:
                  - { FunctionName: fn, Runtime: nodejs20.x, Code: {{folder}}, Role: ses-filter }
                """));
            Assert.Contains("Functions[0] (fn).Role: 'ses-filter' is not an IAM role ARN", e.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void S3ActionPrefix_ThatMakesKeysTooLong_IsAnError()
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load($$"""
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: store
                    Enabled: true
                    Actions:
                      - S3Action: { BucketName: mail, ObjectKeyPrefix: {{new string('p', 220)}} }
            """));
        Assert.Contains("ObjectKeyPrefix", e.Message);
    }

    [Fact]
    public void HttpOptions_ReadTwiceFromTheSameFile_AreEqual()
    {
        const string yaml = "Http: { AllowedHosts: [mail.example.test], ConsolePassword: pw }";
        Assert.Equal(ConfigurationLoader.Load(yaml).Http, ConfigurationLoader.Load(yaml).Http);
        Assert.NotEqual(ConfigurationLoader.Load(yaml).Http, ConfigurationLoader.Load("Http: { AllowedHosts: [other.test], ConsolePassword: pw }").Http);
    }
}
