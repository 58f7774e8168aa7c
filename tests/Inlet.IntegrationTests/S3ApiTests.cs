using System.Net;
using MimeKit;

namespace Inlet.IntegrationTests;

/// <summary>The S3 subset through the real aws CLI, over the buckets the S3 action writes.</summary>
public class S3ApiTests
{
    private static async Task<AwsCli.Result> S3(TestServer server, params string[] arguments) =>
        await AwsCli.RunAsync(server, ["s3api", .. arguments]);

    [Fact]
    public async Task Objects_PutGetRangeHeadCopyListDelete_WithTheAwsCli()
    {
        await using var server = await TestServer.StartAsync("");
        Assert.Equal(0, (await S3(server, "create-bucket", "--bucket", "files")).ExitCode);
        Assert.Contains("(BucketAlreadyOwnedByYou)", (await S3(server, "create-bucket", "--bucket", "files")).Error);
        Assert.Contains("(InvalidBucketName)", (await S3(server, "create-bucket", "--bucket", "ab")).Error);
        Assert.Equal(0, (await S3(server, "head-bucket", "--bucket", "files")).ExitCode);
        Assert.NotEqual(0, (await S3(server, "head-bucket", "--bucket", "missing")).ExitCode);
        // us-east-1 is S3's empty location constraint, which the CLI shows as null.
        var location = await S3(server, "get-bucket-location", "--bucket", "files");
        Assert.True(location.ExitCode == 0, location.Error);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, location.Json.GetProperty("LocationConstraint").ValueKind);
        Assert.Equal("files", (await S3(server, "list-buckets")).Json.GetProperty("Buckets")[0].GetProperty("Name").GetString());

        var source = Path.Combine(server.Directory, "hello.txt");
        await File.WriteAllTextAsync(source, "Hello, bucket. 0123456789");
        var put = await S3(server, "put-object", "--bucket", "files", "--key", "inbox/a b/hello.txt", "--body", source);
        Assert.True(put.ExitCode == 0, put.Error);
        Assert.Equal("\"" + Convert.ToHexString(System.Security.Cryptography.MD5.HashData(await File.ReadAllBytesAsync(source))).ToLowerInvariant() + "\"", put.Json.GetProperty("ETag").GetString());

        var output = Path.Combine(server.Directory, "out.txt");
        Assert.Equal(0, (await S3(server, "get-object", "--bucket", "files", "--key", "inbox/a b/hello.txt", output)).ExitCode);
        Assert.Equal("Hello, bucket. 0123456789", await File.ReadAllTextAsync(output));
        var ranged = await S3(server, "get-object", "--bucket", "files", "--key", "inbox/a b/hello.txt", "--range", "bytes=7-12", output);
        Assert.Equal("bytes 7-12/25", ranged.Json.GetProperty("ContentRange").GetString());
        Assert.Equal("bucket", await File.ReadAllTextAsync(output));
        Assert.Equal(25, (await S3(server, "head-object", "--bucket", "files", "--key", "inbox/a b/hello.txt")).Json.GetProperty("ContentLength").GetInt32());
        Assert.Contains("(NoSuchKey)", (await S3(server, "get-object", "--bucket", "files", "--key", "nope", output)).Error);
        Assert.Contains("(NoSuchBucket)", (await S3(server, "get-object", "--bucket", "missing", "--key", "x", output)).Error);

        // The forwarder copies an object onto itself; copying elsewhere works the same.
        var self = await S3(server, "copy-object", "--bucket", "files", "--key", "inbox/a b/hello.txt", "--copy-source", "files/inbox/a b/hello.txt", "--storage-class", "STANDARD", "--content-type", "text/plain", "--metadata-directive", "REPLACE");
        Assert.True(self.ExitCode == 0, self.Error);
        Assert.Equal(0, (await S3(server, "copy-object", "--bucket", "files", "--key", "archive/hello.txt", "--copy-source", "files/inbox/a b/hello.txt")).ExitCode);

        var list = (await S3(server, "list-objects-v2", "--bucket", "files", "--prefix", "inbox/")).Json;
        Assert.Equal(["inbox/a b/hello.txt"], list.GetProperty("Contents").EnumerateArray().Select(c => c.GetProperty("Key").GetString()));
        var folders = (await S3(server, "list-objects-v2", "--bucket", "files", "--delimiter", "/")).Json;
        Assert.Equal(["archive/", "inbox/"], folders.GetProperty("CommonPrefixes").EnumerateArray().Select(c => c.GetProperty("Prefix").GetString()));

        Assert.Equal(0, (await S3(server, "delete-object", "--bucket", "files", "--key", "archive/hello.txt")).ExitCode);
        Assert.Single((await S3(server, "list-objects-v2", "--bucket", "files")).Json.GetProperty("Contents").EnumerateArray());

        using var anonymous = new HttpClient();
        using var refused = await anonymous.GetAsync($"http://{server.Server.HttpEndPoint}/files/inbox/a%20b/hello.txt");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("<Code>AccessDenied</Code>", await refused.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task BadContinuationTokenAndBrokenChunkedBody_GetS3Errors()
    {
        await using var server = await TestServer.StartAsync("Buckets: [files]");
        using var s3 = new HttpClient(new Inlet.Api.SigningHandler("inlet", "inlet-secret", "us-east-1", "s3")) { BaseAddress = new Uri($"http://{server.Server.HttpEndPoint}") };
        using (var list = await s3.GetAsync("/files?list-type=2&continuation-token=%%%not-base64"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, list.StatusCode);
            Assert.Contains("<Code>InvalidArgument</Code>", await list.Content.ReadAsStringAsync());
        }

        using var put = new HttpRequestMessage(HttpMethod.Put, "/files/broken") { Content = new StringContent("zz;chunk-signature=x\r\nabc") };
        put.Content.Headers.ContentEncoding.Add("aws-chunked");
        using (var response = await s3.SendAsync(put))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("<Code>IncompleteBody</Code>", await response.Content.ReadAsStringAsync());
        }

        Assert.Null(ReceiptRuleTests.ReadObject(server, "files", "broken"));
    }

    [Fact]
    public async Task MessageStoredByTheS3Action_IsReadBackWithAwsS3Cp()
    {
        await using var server = await TestServer.StartAsync("""
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: store
                    Enabled: true
                    Actions: [{ S3Action: { BucketName: mail, ObjectKeyPrefix: inbox/ } }]
            """);
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("a@sender.test"));
        message.To.Add(MailboxAddress.Parse("b@example.com"));
        message.Subject = "read me back";
        message.Body = new TextPart("plain") { Text = "stored by SES's S3 action" };
        var id = await ReceiptRuleTests.SendAsync(server, message);
        await server.WaitForMessageAsync(id);

        var output = Path.Combine(server.Directory, "mail.eml");
        var copy = await AwsCli.RunAsync(server, "s3", "cp", $"s3://mail/inbox/{id}", output);
        Assert.True(copy.ExitCode == 0, copy.Error);
        var text = await File.ReadAllTextAsync(output);
        Assert.StartsWith("Return-Path: <sender@sender.test>", text);
        Assert.Contains("Subject: read me back", text);
    }

    [Fact]
    public async Task ListBuckets_CreationDate_IsWhenTheBucketWasMadeAndSurvivesARestart()
    {
        var directory = TestServer.NewDirectory();
        string created;
        await using (var server = await TestServer.StartAsync("", directory: directory))
        {
            var before = DateTimeOffset.UtcNow.AddSeconds(-2);
            Assert.Equal(0, (await S3(server, "create-bucket", "--bucket", "dated")).ExitCode);
            var bucket = (await S3(server, "list-buckets")).Json.GetProperty("Buckets")[0];
            created = bucket.GetProperty("CreationDate").GetString()!;
            var when = DateTimeOffset.Parse(created, System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(when, before, DateTimeOffset.UtcNow.AddSeconds(2));
        }

        await Task.Delay(1100);
        // Declaring the bucket in the file makes it again at start; it keeps its first creation time.
        await using (var restarted = await TestServer.StartAsync("Buckets: [dated]", directory: directory))
        {
            Assert.Equal(created, (await S3(restarted, "list-buckets")).Json.GetProperty("Buckets")[0].GetProperty("CreationDate").GetString());
        }
    }

    /// <summary>The policy of the SES developer guide's "Give permissions to Amazon SES to write to your S3 bucket".</summary>
    private const string SesTutorialPolicy = """
        {
            "Version":"2012-10-17",
            "Statement":[
                {
                    "Sid":"AllowSESPuts",
                    "Effect":"Allow",
                    "Principal":{
                        "Service":"ses.amazonaws.com"
                    },
                    "Action":"s3:PutObject",
                    "Resource":"arn:aws:s3:::mail-inbox/*",
                    "Condition":{
                        "StringEquals":{
                            "AWS:SourceAccount":"000000000000",
                            "AWS:SourceArn": "arn:aws:ses:us-east-1:000000000000:receipt-rule-set/main:receipt-rule/store"
                        }
                    }
                }
            ]
        }
        """;

    [Fact]
    public async Task BucketPolicy_PutGetDelete_StoresTheSesTutorialPolicyAndRefusesMalformedOnes()
    {
        await using var server = await TestServer.StartAsync("Buckets: [mail-inbox]");
        Assert.Contains("(NoSuchBucketPolicy)", (await S3(server, "get-bucket-policy", "--bucket", "mail-inbox")).Error);

        var put = await S3(server, "put-bucket-policy", "--bucket", "mail-inbox", "--policy", SesTutorialPolicy);
        Assert.True(put.ExitCode == 0, put.Error);
        var got = await S3(server, "get-bucket-policy", "--bucket", "mail-inbox");
        Assert.True(got.ExitCode == 0, got.Error);
        Assert.Equal(SesTutorialPolicy, got.Json.GetProperty("Policy").GetString());
        // The bucket is still the bucket: a stored policy does not change what creating it again says.
        Assert.Contains("(BucketAlreadyOwnedByYou)", (await S3(server, "create-bucket", "--bucket", "mail-inbox")).Error);

        Assert.Contains("(MalformedPolicy)", (await S3(server, "put-bucket-policy", "--bucket", "mail-inbox", "--policy", "{\"Version\": ")).Error);
        Assert.Contains("(MalformedPolicy)", (await S3(server, "put-bucket-policy", "--bucket", "mail-inbox", "--policy", "not json")).Error);
        Assert.Contains("Missing required field Statement", (await S3(server, "put-bucket-policy", "--bucket", "mail-inbox", "--policy", "{\"Version\":\"2012-10-17\"}")).Error);
        Assert.Contains("Policy has invalid resource", (await S3(server, "put-bucket-policy", "--bucket", "mail-inbox", "--policy", SesTutorialPolicy.Replace("mail-inbox", "someone-else", StringComparison.Ordinal))).Error);
        Assert.Contains("(NoSuchBucket)", (await S3(server, "put-bucket-policy", "--bucket", "missing", "--policy", SesTutorialPolicy)).Error);
        Assert.Equal(SesTutorialPolicy, (await S3(server, "get-bucket-policy", "--bucket", "mail-inbox")).Json.GetProperty("Policy").GetString());

        Assert.Equal(0, (await S3(server, "delete-bucket-policy", "--bucket", "mail-inbox")).ExitCode);
        Assert.Contains("(NoSuchBucketPolicy)", (await S3(server, "get-bucket-policy", "--bucket", "mail-inbox")).Error);
        // The policy file is no object of the bucket.
        Assert.False((await S3(server, "list-objects-v2", "--bucket", "mail-inbox")).Output.Contains("policy", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PutBucketSubresource_NotImplemented_IsNotTakenForCreateBucket()
    {
        await using var server = await TestServer.StartAsync("Buckets: [files]");
        var result = await S3(server, "put-bucket-versioning", "--bucket", "files", "--versioning-configuration", "Status=Enabled");
        Assert.Contains("(NotImplemented)", result.Error);
    }
}

/// <summary>The S3 action writing to a real S3 service through AWSSDK.S3 — here, a second Inlet's S3 API.</summary>
public class S3BucketStoreTests
{
    [Fact]
    public async Task S3Action_WithAnS3BucketStore_WritesToTheS3Service()
    {
        await using var storage = await TestServer.StartAsync("Buckets: [remote-mail]");
        await using var server = await TestServer.StartAsync($$"""
            BucketStore:
              Type: s3
              ServiceUrl: http://{{storage.Server.HttpEndPoint}}
              AccessKeyId: inlet
              SecretAccessKey: inlet-secret
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: store
                    Enabled: true
                    Actions: [{ S3Action: { BucketName: remote-mail, ObjectKeyPrefix: in/ } }]
            """);
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("a@sender.test"));
        message.To.Add(MailboxAddress.Parse("b@example.com"));
        message.Subject = "to the s3 service";
        message.Body = new TextPart("plain") { Text = "via AWSSDK.S3" };
        var id = await ReceiptRuleTests.SendAsync(server, message);
        await server.WaitForMessageAsync(id);
        var stored = ReceiptRuleTests.ReadObject(storage, "remote-mail", "in/" + id);
        Assert.NotNull(stored);
        Assert.Contains("Subject: to the s3 service", stored);
        Assert.Null(ReceiptRuleTests.ReadObject(server, "remote-mail", "in/" + id));
    }

    [Fact]
    public async Task ListBucketsAndPolicies_WithAnS3BucketStore_PassThroughToTheS3Service()
    {
        await using var storage = await TestServer.StartAsync("Buckets: [remote]");
        await using var server = await TestServer.StartAsync($$"""
            BucketStore:
              Type: s3
              ServiceUrl: http://{{storage.Server.HttpEndPoint}}
              AccessKeyId: inlet
              SecretAccessKey: inlet-secret
            """);
        var direct = (await AwsCli.RunAsync(storage, "s3api", "list-buckets")).Json.GetProperty("Buckets")[0];
        var through = (await AwsCli.RunAsync(server, "s3api", "list-buckets")).Json.GetProperty("Buckets")[0];
        Assert.Equal("remote", through.GetProperty("Name").GetString());
        Assert.Equal(direct.GetProperty("CreationDate").GetString(), through.GetProperty("CreationDate").GetString());

        const string Policy = """{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ses.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::remote/*"}]}""";
        var put = await AwsCli.RunAsync(server, "s3api", "put-bucket-policy", "--bucket", "remote", "--policy", Policy);
        Assert.True(put.ExitCode == 0, put.Error);
        Assert.Equal(Policy, (await AwsCli.RunAsync(storage, "s3api", "get-bucket-policy", "--bucket", "remote")).Json.GetProperty("Policy").GetString());
        Assert.Equal(0, (await AwsCli.RunAsync(server, "s3api", "delete-bucket-policy", "--bucket", "remote")).ExitCode);
        var gone = await AwsCli.RunAsync(server, "s3api", "get-bucket-policy", "--bucket", "remote");
        Assert.True(gone.Error.Contains("(NoSuchBucketPolicy)", StringComparison.Ordinal), gone.ExitCode + gone.Output + gone.Error);
    }
}
