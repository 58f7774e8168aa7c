using System.Net;
using System.Text;
using MimeKit;

namespace Inlet.IntegrationTests;

/// <summary>The SES receipt API through the real aws CLI, and Signature Version 4 refusals.</summary>
public class SesApiTests
{
    private static async Task<AwsCli.Result> Ses(TestServer server, params string[] arguments) =>
        await AwsCli.RunAsync(server, ["ses", .. arguments]);

    private static async Task OkAsync(TestServer server, params string[] arguments)
    {
        var result = await Ses(server, arguments);
        Assert.True(result.ExitCode == 0, $"aws ses {string.Join(' ', arguments)}: {result.Error}");
    }

    private static async Task<string> FailsAsync(TestServer server, string code, params string[] arguments)
    {
        var result = await Ses(server, arguments);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"({code})", result.Error);
        return result.Error;
    }

    [Fact]
    public async Task ReceiptRules_EveryOperation_WorksAsInSes()
    {
        await using var server = await TestServer.StartAsync("Buckets: [mail]");
        await OkAsync(server, "create-receipt-rule-set", "--rule-set-name", "main");
        await FailsAsync(server, "AlreadyExists", "create-receipt-rule-set", "--rule-set-name", "main");
        await FailsAsync(server, "ValidationError", "create-receipt-rule-set", "--rule-set-name", "bad name!");
        await FailsAsync(server, "InvalidParameterValue", "create-receipt-rule-set", "--rule-set-name", "edge-");

        await OkAsync(server, "create-receipt-rule", "--rule-set-name", "main", "--rule", """{"Name":"second","Enabled":true,"Recipients":["example.com"],"Actions":[{"S3Action":{"BucketName":"mail","ObjectKeyPrefix":"in/"}}]}""");
        await OkAsync(server, "create-receipt-rule", "--rule-set-name", "main", "--rule", """{"Name":"first","Enabled":true,"Actions":[{"AddHeaderAction":{"HeaderName":"X-Api","HeaderValue":"yes"}}]}""");
        await OkAsync(server, "create-receipt-rule", "--rule-set-name", "main", "--after", "second", "--rule", """{"Name":"third","Enabled":false}""");
        await FailsAsync(server, "RuleDoesNotExist", "create-receipt-rule", "--rule-set-name", "main", "--after", "nope", "--rule", """{"Name":"x"}""");
        await FailsAsync(server, "RuleSetDoesNotExist", "create-receipt-rule", "--rule-set-name", "nope", "--rule", """{"Name":"x"}""");
        await FailsAsync(server, "AlreadyExists", "create-receipt-rule", "--rule-set-name", "main", "--rule", """{"Name":"first"}""");
        await FailsAsync(server, "InvalidLambdaFunction", "create-receipt-rule", "--rule-set-name", "main", "--rule", """{"Name":"l","Actions":[{"LambdaAction":{"FunctionArn":"arn:aws:lambda:us-east-1:000000000000:function:none"}}]}""");
        await FailsAsync(server, "InvalidSnsTopic", "create-receipt-rule", "--rule-set-name", "main", "--rule", """{"Name":"t","Actions":[{"StopAction":{"Scope":"RuleSet","TopicArn":"arn:aws:sns:us-east-1:000000000000:none"}}]}""");
        await FailsAsync(server, "InvalidS3Configuration", "create-receipt-rule", "--rule-set-name", "main", "--rule", """{"Name":"s","Actions":[{"S3Action":{"BucketName":"no-such-bucket"}}]}""");
        var tooMany = string.Join(",", Enumerable.Repeat("""{"StopAction":{"Scope":"RuleSet"}}""", 11));
        await FailsAsync(server, "LimitExceeded", "create-receipt-rule", "--rule-set-name", "main", "--rule", $$"""{"Name":"many","Actions":[{{tooMany}}]}""");

        var described = (await Ses(server, "describe-receipt-rule-set", "--rule-set-name", "main")).Json;
        Assert.Equal("main", described.GetProperty("Metadata").GetProperty("Name").GetString());
        Assert.Equal(["first", "second", "third"], described.GetProperty("Rules").EnumerateArray().Select(r => r.GetProperty("Name").GetString()));
        var second = described.GetProperty("Rules")[1];
        Assert.Equal("in/", second.GetProperty("Actions")[0].GetProperty("S3Action").GetProperty("ObjectKeyPrefix").GetString());
        Assert.False(described.GetProperty("Rules")[2].GetProperty("Enabled").GetBoolean());

        await OkAsync(server, "reorder-receipt-rule-set", "--rule-set-name", "main", "--rule-names", "third", "second", "first");
        await FailsAsync(server, "InvalidParameterValue", "reorder-receipt-rule-set", "--rule-set-name", "main", "--rule-names", "third");
        await OkAsync(server, "set-receipt-rule-position", "--rule-set-name", "main", "--rule-name", "first");
        await OkAsync(server, "set-receipt-rule-position", "--rule-set-name", "main", "--rule-name", "third", "--after", "second");
        var order = (await Ses(server, "describe-receipt-rule-set", "--rule-set-name", "main")).Json.GetProperty("Rules").EnumerateArray().Select(r => r.GetProperty("Name").GetString());
        Assert.Equal(["first", "second", "third"], order);

        await OkAsync(server, "update-receipt-rule", "--rule-set-name", "main", "--rule", """{"Name":"third","Enabled":true,"TlsPolicy":"Require"}""");
        var third = (await Ses(server, "describe-receipt-rule", "--rule-set-name", "main", "--rule-name", "third")).Json.GetProperty("Rule");
        Assert.Equal("Require", third.GetProperty("TlsPolicy").GetString());
        await FailsAsync(server, "RuleDoesNotExist", "describe-receipt-rule", "--rule-set-name", "main", "--rule-name", "nope");
        await OkAsync(server, "delete-receipt-rule", "--rule-set-name", "main", "--rule-name", "third");
        await OkAsync(server, "delete-receipt-rule", "--rule-set-name", "main", "--rule-name", "third");

        await OkAsync(server, "clone-receipt-rule-set", "--rule-set-name", "copy", "--original-rule-set-name", "main");
        var sets = (await Ses(server, "list-receipt-rule-sets")).Json.GetProperty("RuleSets").EnumerateArray().Select(s => s.GetProperty("Name").GetString()).ToList();
        Assert.Equal(["main", "copy"], sets);
        await OkAsync(server, "set-active-receipt-rule-set", "--rule-set-name", "main");
        Assert.Equal("main", (await Ses(server, "describe-active-receipt-rule-set")).Json.GetProperty("Metadata").GetProperty("Name").GetString());
        await FailsAsync(server, "CannotDelete", "delete-receipt-rule-set", "--rule-set-name", "main");
        await OkAsync(server, "delete-receipt-rule-set", "--rule-set-name", "copy");
        await OkAsync(server, "delete-receipt-rule-set", "--rule-set-name", "never-existed");

        await OkAsync(server, "create-receipt-filter", "--filter", """{"Name":"office","IpFilter":{"Policy":"Allow","Cidr":"192.0.2.0/24"}}""");
        await FailsAsync(server, "InvalidParameterValue", "create-receipt-filter", "--filter", """{"Name":"bad","IpFilter":{"Policy":"Block","Cidr":"300.0.0.1"}}""");
        await FailsAsync(server, "AlreadyExists", "create-receipt-filter", "--filter", """{"Name":"office","IpFilter":{"Policy":"Block","Cidr":"10.0.0.1"}}""");
        var filter = (await Ses(server, "list-receipt-filters")).Json.GetProperty("Filters")[0];
        Assert.Equal("192.0.2.0/24", filter.GetProperty("IpFilter").GetProperty("Cidr").GetString());
        await OkAsync(server, "delete-receipt-filter", "--filter-name", "office");
        Assert.Equal(0, (await Ses(server, "list-receipt-filters")).Json.GetProperty("Filters").GetArrayLength());

        await OkAsync(server, "set-active-receipt-rule-set");
        var none = await Ses(server, "describe-active-receipt-rule-set");
        Assert.Equal(0, none.ExitCode);
        Assert.DoesNotContain("Metadata", none.Output);
    }

    [Fact]
    public async Task RuleCreatedThroughTheCli_ProcessesTheNextMessage_AndSurvivesARestart()
    {
        var directory = TestServer.NewDirectory();
        await using (var server = await TestServer.StartAsync("Buckets: [mail]", directory: directory))
        {
            await OkAsync(server, "create-receipt-rule-set", "--rule-set-name", "api");
            await OkAsync(server, "create-receipt-rule", "--rule-set-name", "api", "--rule", """{"Name":"store","Enabled":true,"Recipients":["api.example"],"Actions":[{"S3Action":{"BucketName":"mail","ObjectKeyPrefix":"api/"}}]}""");
            await OkAsync(server, "set-active-receipt-rule-set", "--rule-set-name", "api");
            var message = new MimeMessage();
            message.From.Add(MailboxAddress.Parse("a@sender.test"));
            message.To.Add(MailboxAddress.Parse("b@api.example"));
            message.Subject = "through the api";
            message.Body = new TextPart("plain") { Text = "x" };
            var id = await ReceiptRuleTests.SendAsync(server, message);
            await server.WaitForMessageAsync(id);
            Assert.NotNull(ReceiptRuleTests.ReadObject(server, "mail", "api/" + id));
        }

        await using (var restarted = await TestServer.StartAsync("Buckets: [mail]", directory: directory))
        {
            var result = await Ses(restarted, "describe-active-receipt-rule-set");
            Assert.True(result.ExitCode == 0, result.Error);
            var active = result.Json;
            Assert.Equal("api", active.GetProperty("Metadata").GetProperty("Name").GetString());
            Assert.Equal("store", active.GetProperty("Rules")[0].GetProperty("Name").GetString());
        }
    }

    [Fact]
    public async Task SignatureV4_WrongKeysAlteredBodiesExpiredDatesAndMissingSignatures_AreRefused()
    {
        await using var server = await TestServer.StartAsync();
        var endpoint = $"http://{server.Server.HttpEndPoint}";

        var wrongKey = await AwsCli.RunAsync(endpoint, "nobody", "inlet-secret", "ses", "list-receipt-rule-sets");
        Assert.Contains("(InvalidClientTokenId)", wrongKey.Error);
        var wrongSecret = await AwsCli.RunAsync(endpoint, "inlet", "not-the-secret", "ses", "list-receipt-rule-sets");
        Assert.Contains("(SignatureDoesNotMatch)", wrongSecret.Error);
        var lambda = await AwsCli.RunAsync(endpoint, "inlet", "not-the-secret", "lambda", "invoke", "--function-name", "x", Path.Combine(server.Directory, "o.json"));
        Assert.Contains("(InvalidSignatureException)", lambda.Error);

        using var raw = new HttpClient { BaseAddress = new Uri(endpoint) };
        using (var missing = await raw.PostAsync("/", new StringContent("Action=ListReceiptRuleSets&Version=2010-12-01", Encoding.UTF8, "application/x-www-form-urlencoded")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, missing.StatusCode);
            Assert.Contains("<Code>MissingAuthenticationToken</Code>", await missing.Content.ReadAsStringAsync());
        }

        // Signed for one body, sent with another.
        var body = "Action=CreateReceiptRuleSet&Version=2010-12-01&RuleSetName=original";
        var uri = new Uri(endpoint + "/");
        var headers = Inlet.Api.SigV4.Sign("POST", uri, new Dictionary<string, string> { ["content-type"] = "application/x-www-form-urlencoded" }, Encoding.UTF8.GetBytes(body), "inlet", "inlet-secret", "us-east-1", "ses", DateTimeOffset.UtcNow);
        using (var altered = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new StringContent(body.Replace("original", "altered", StringComparison.Ordinal)) })
        {
            altered.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-www-form-urlencoded");
            foreach (var (name, value) in headers)
            {
                altered.Headers.TryAddWithoutValidation(name, value);
            }

            using var response = await raw.SendAsync(altered);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Contains("<Code>SignatureDoesNotMatch</Code>", await response.Content.ReadAsStringAsync());
        }

        var old = Inlet.Api.SigV4.Sign("POST", uri, new Dictionary<string, string> { ["content-type"] = "application/x-www-form-urlencoded" }, Encoding.UTF8.GetBytes(body), "inlet", "inlet-secret", "us-east-1", "ses", DateTimeOffset.UtcNow.AddMinutes(-20));
        using (var expired = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new StringContent(body) })
        {
            expired.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-www-form-urlencoded");
            foreach (var (name, value) in old)
            {
                expired.Headers.TryAddWithoutValidation(name, value);
            }

            using var response = await raw.SendAsync(expired);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var text = await response.Content.ReadAsStringAsync();
            Assert.Contains("<Code>RequestExpired</Code>", text);
            Assert.Contains("Signature expired", text);
        }

        using (var malformed = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new StringContent(body) })
        {
            malformed.Headers.TryAddWithoutValidation("Authorization", "AWS4-HMAC-SHA256 Credential=inlet/20260101/us-east-1/ses/aws4_request");
            using var response = await raw.SendAsync(malformed);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("<Code>IncompleteSignature</Code>", await response.Content.ReadAsStringAsync());
        }

        // Nothing was created by the refused requests.
        Assert.Equal(0, (await AwsCli.RunAsync(server, "ses", "list-receipt-rule-sets")).Json.GetProperty("RuleSets").GetArrayLength() - 1);
    }

    [Fact]
    public async Task S3ActionKmsKeyArnAndIamRoleArn_AreRecordedAndDescribedButTheMessageIsStoredAsIs()
    {
        const string Kms = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        const string Role = "arn:aws:iam::000000000000:role/ses-s3-writer";
        var directory = TestServer.NewDirectory();
        string id;
        await using (var server = await TestServer.StartAsync("Buckets: [mail]", directory: directory))
        {
            await OkAsync(server, "create-receipt-rule-set", "--rule-set-name", "kms");
            await OkAsync(server, "create-receipt-rule", "--rule-set-name", "kms", "--rule", $$$"""{"Name":"store","Enabled":true,"Actions":[{"S3Action":{"BucketName":"mail","ObjectKeyPrefix":"enc/","KmsKeyArn":"{{{Kms}}}","IamRoleArn":"{{{Role}}}"}}]}""");
            await OkAsync(server, "set-active-receipt-rule-set", "--rule-set-name", "kms");
            var action = (await Ses(server, "describe-receipt-rule", "--rule-set-name", "kms", "--rule-name", "store")).Json.GetProperty("Rule").GetProperty("Actions")[0].GetProperty("S3Action");
            Assert.Equal(Kms, action.GetProperty("KmsKeyArn").GetString());
            Assert.Equal(Role, action.GetProperty("IamRoleArn").GetString());

            var message = new MimeMessage();
            message.From.Add(MailboxAddress.Parse("a@sender.test"));
            message.To.Add(MailboxAddress.Parse("b@example.com"));
            message.Subject = "not encrypted by Inlet";
            message.Body = new TextPart("plain") { Text = "x" };
            id = await ReceiptRuleTests.SendAsync(server, message);
            await server.WaitForMessageAsync(id);
            // Inlet has no KMS: the object is the plain message.
            Assert.Contains("Subject: not encrypted by Inlet", ReceiptRuleTests.ReadObject(server, "mail", "enc/" + id));
        }

        await using (var restarted = await TestServer.StartAsync("Buckets: [mail]", directory: directory))
        {
            var action = (await Ses(restarted, "describe-receipt-rule", "--rule-set-name", "kms", "--rule-name", "store")).Json.GetProperty("Rule").GetProperty("Actions")[0].GetProperty("S3Action");
            Assert.Equal(Kms, action.GetProperty("KmsKeyArn").GetString());
            Assert.Equal(Role, action.GetProperty("IamRoleArn").GetString());
        }

        // The same fields from inlet.yaml, in describe-active-receipt-rule-set's shape.
        await using var fromFile = await TestServer.StartAsync($$"""
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: store
                    Enabled: true
                    Actions: [{ S3Action: { BucketName: mail, KmsKeyArn: "{{Kms}}", IamRoleArn: "{{Role}}" } }]
            """);
        var declared = (await Ses(fromFile, "describe-active-receipt-rule-set")).Json.GetProperty("Rules")[0].GetProperty("Actions")[0].GetProperty("S3Action");
        Assert.Equal(Kms, declared.GetProperty("KmsKeyArn").GetString());
        Assert.Equal(Role, declared.GetProperty("IamRoleArn").GetString());
    }
}
