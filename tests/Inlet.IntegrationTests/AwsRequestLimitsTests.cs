using System.Diagnostics;
using System.Net;
using System.Text;

namespace Inlet.IntegrationTests;

/// <summary>The AWS APIs' edges: credential scopes, malformed Query forms, bucket names, body limits.</summary>
public sealed class AwsRequestLimitsTests
{
    private static readonly Dictionary<string, string> s_form = new() { ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8" };

    private static Task<RawHttp.Response> QueryAsync(TestServer server, string form, string region = "us-east-1", string service = "ses", Dictionary<string, string>? headers = null) =>
        RawHttp.SendAsync(server.Server.HttpEndPoint, "POST", "/", headers ?? s_form, Encoding.UTF8.GetBytes(form), sign: (region, service));

    [Fact]
    public async Task Credential_ScopedToAnotherRegionOrService_IsRefused()
    {
        await using var server = await TestServer.StartAsync();
        const string list = "Action=ListReceiptRuleSets&Version=2010-12-01";
        Assert.Equal(200, (await QueryAsync(server, list)).Status);

        var region = await QueryAsync(server, list, region: "xx-evil-1");
        Assert.Equal(403, region.Status);
        Assert.Contains("<Code>SignatureDoesNotMatch</Code>", region.Body);
        Assert.Contains("Credential should be scoped to a valid region", region.Body);

        var service = await QueryAsync(server, list, service: "sts");
        Assert.Equal(403, service.Status);
        Assert.Contains("Credential should be scoped to correct service: &apos;ses&apos;", service.Body.Replace("'", "&apos;"));

        var sns = await QueryAsync(server, "Action=ListTopics&Version=2010-03-31", service: "ses");
        Assert.Equal(403, sns.Status);
        Assert.Contains("correct service", sns.Body);
        Assert.Equal(200, (await QueryAsync(server, "Action=ListTopics&Version=2010-03-31", service: "sns")).Status);

        var s3 = await RawHttp.SendAsync(server.Server.HttpEndPoint, "GET", "/", sign: ("xx-evil-1", "s3"));
        Assert.Equal(400, s3.Status);
        Assert.Contains("<Code>AuthorizationHeaderMalformed</Code>", s3.Body);
        Assert.Contains("the region &apos;xx-evil-1&apos; is wrong; expecting &apos;us-east-1&apos;", s3.Body);
        Assert.Equal(400, (await RawHttp.SendAsync(server.Server.HttpEndPoint, "GET", "/", sign: ("us-east-1", "ses"))).Status);

        var lambda = await RawHttp.SendAsync(server.Server.HttpEndPoint, "GET", "/2015-03-31/functions", sign: ("us-east-1", "sts"));
        Assert.Equal(403, lambda.Status);
        Assert.Contains("InvalidSignatureException", lambda.Headers);
    }

    [Fact]
    public async Task MalformedQueryForms_Are400WithQueryCodes()
    {
        await using var server = await TestServer.StartAsync();
        const string list = "Action=ListReceiptRuleSets&Version=2010-12-01";
        async Task Expect(string code, string form, Dictionary<string, string>? headers = null)
        {
            var response = await QueryAsync(server, form, headers: headers);
            Assert.True(response.Status == 400 && response.Body.Contains($"<Code>{code}</Code>"), $"{code}: {response.Status} {response.Body}");
        }

        await Expect("MalformedQueryString", list + "&NextToken=a%00b");
        var inQuery = await RawHttp.SendAsync(server.Server.HttpEndPoint, "GET", "/?Action=ListReceiptRuleSets&Version=2010-12-01&NextToken=a%00b", sign: ("us-east-1", "ses"));
        Assert.True(inQuery.Status == 400 && inQuery.Body.Contains("<Code>MalformedQueryString</Code>"), inQuery.Body);
        await Expect("MalformedQueryString", list + string.Concat(Enumerable.Range(0, 1025).Select(i => $"&F{i}=x")));
        await Expect("InvalidParameterValue", list + "&NextToken=" + new string('a', 4 * 1024 * 1024 + 1));
        await Expect("MalformedQueryString", list + "&" + new string('k', 3000) + "=v");
        await Expect("MalformedQueryString", list + "&Signature=a&Signature=b");
        await Expect("MalformedQueryString", list, new Dictionary<string, string> { ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-7" });
        await Expect("MalformedQueryString", "--b\r\nContent-Disposition: form-data; name=\"Action\"\r\n\r\nList", new Dictionary<string, string> { ["Content-Type"] = "multipart/form-data; boundary=b" });
        // SendRawEmail's message may be larger than other values.
        var raw = await QueryAsync(server, "Action=SendRawEmail&Version=2010-12-01&RawMessage.Data=" + new string('A', 5 * 1024 * 1024));
        Assert.DoesNotContain("MalformedQueryString", raw.Body);
        Assert.NotEqual(500, raw.Status);
    }

    [Fact]
    public async Task BucketNamesThatArePaths_AreInvalidBucketName()
    {
        await using var server = await TestServer.StartAsync("Buckets: [mail]\nHttp: { AllowedHosts: [inlet.test] }");
        foreach (var target in new[] { "/../x", "/..", "/%2E%2E/inlet.db", "/%23x/key", "/mail%2F..%2F..%2Fspool/x", "/mail%2F..%2F..%2Fspool" })
        {
            var response = await RawHttp.SendAsync(server.Server.HttpEndPoint, "GET", target, sign: ("us-east-1", "s3"));
            Assert.True(response.Status == 400 && response.Body.Contains("<Code>InvalidBucketName</Code>"), $"{target}: {response.Status} {response.Body}");
        }

        var virtualHost = await RawHttp.SendAsync(server.Server.HttpEndPoint, "GET", "/key", host: "..inlet.test", sign: ("us-east-1", "s3"));
        Assert.Contains("<Code>InvalidBucketName</Code>", virtualHost.Body);

        var copy = await RawHttp.SendAsync(server.Server.HttpEndPoint, "PUT", "/mail/stolen", new Dictionary<string, string> { ["x-amz-copy-source"] = "../inlet.db" }, sign: ("us-east-1", "s3"));
        Assert.Equal(400, copy.Status);
        Assert.Contains("<Code>InvalidArgument</Code>", copy.Body);
        var missing = await RawHttp.SendAsync(server.Server.HttpEndPoint, "PUT", "/mail/stolen", new Dictionary<string, string> { ["x-amz-copy-source"] = "mail/..%2F..%2Finlet.db" }, sign: ("us-east-1", "s3"));
        Assert.Contains("<Code>NoSuchKey</Code>", missing.Body);
        Assert.False(File.Exists(Path.Combine(server.Directory, "buckets", "mail", "stolen")));
    }

    [Fact]
    public async Task WrongSignature_IsRefusedBeforeTheBodyIsRead()
    {
        await using var server = await TestServer.StartAsync("Buckets: [mail]");
        // 23 MB announced, none sent: the refusal must not wait for it.
        var headers = new Dictionary<string, string>
        {
            ["x-amz-date"] = DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'"),
            ["x-amz-content-sha256"] = new string('0', 64),
            ["Authorization"] = $"AWS4-HMAC-SHA256 Credential=inlet/{DateTimeOffset.UtcNow:yyyyMMdd}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={new string('0', 64)}",
        };
        var clock = Stopwatch.StartNew();
        var s3 = await RawHttp.SendAsync(server.Server.HttpEndPoint, "PUT", "/mail/big", headers, declaredLength: 23_000_000, timeout: TimeSpan.FromSeconds(5));
        Assert.Equal(403, s3.Status);
        Assert.Contains("SignatureDoesNotMatch", s3.Body);

        // A Query body is part of its signature: one over the limit is refused before any of it is read.
        var query = await RawHttp.SendAsync(server.Server.HttpEndPoint, "POST", "/", s_form, declaredLength: 100_000_000, timeout: TimeSpan.FromSeconds(5));
        Assert.Equal(413, query.Status);
        // Only a form that carries a message (SendRawEmail, SendEmail) may be large: any other is cut off at 8 MiB as it
        // streams, before its signature is checked.
        var form = Encoding.ASCII.GetBytes("Action=ListTopics&Version=2010-03-31&Padding=" + new string('x', 9 * 1024 * 1024));
        var padded = await RawHttp.SendAsync(server.Server.HttpEndPoint, "POST", "/", s_form, form, sign: ("us-east-1", "sns"));
        Assert.Equal(413, padded.Status);
        Assert.Contains("8388608", padded.Body);
        var api = await RawHttp.SendAsync(server.Server.HttpEndPoint, "POST", "/api/messages/x/replay", declaredLength: 100_000_000, timeout: TimeSpan.FromSeconds(5));
        Assert.Equal(413, api.Status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), clock.Elapsed.ToString());
    }

    [Fact]
    public async Task MessageSizedBodies_AreTakenWhereMessagesTravel()
    {
        await using var server = await TestServer.StartAsync("Buckets: [mail]");
        // Between Kestrel's default 30,000,000 and SMTP's 40 MiB.
        var body = new byte[35_000_000];
        Array.Fill(body, (byte)'a');
        using var s3 = new HttpClient(new Inlet.Api.SigningHandler("inlet", "inlet-secret", "us-east-1", "s3")) { BaseAddress = server.Http.BaseAddress };
        using (var put = await s3.PutAsync("/mail/large", new ByteArrayContent(body)))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        Assert.Equal(35_000_000, new FileInfo(Path.Combine(server.Directory, "buckets", "mail", "large")).Length);

        var message = Encoding.ASCII.GetBytes("Subject: large\r\n\r\n").Concat(body).ToArray();
        using (var dryRun = await server.Http.PostAsync("/api/rules/test?to=x@example.com", new ByteArrayContent(message)))
        {
            Assert.Equal(HttpStatusCode.OK, dryRun.StatusCode);
        }

        // Past the limits: refused from the Content-Length, before any of the body is read.
        var tooLarge = server.Server.Options.Smtp.MaxMessageSize + 2 * 1024 * 1024;
        var refused = await RawHttp.SendAsync(server.Server.HttpEndPoint, "PUT", "/mail/too-large", declaredLength: tooLarge);
        Assert.Equal(400, refused.Status);
        Assert.Contains("<Code>EntityTooLarge</Code>", refused.Body);
        var dry = await RawHttp.SendAsync(server.Server.HttpEndPoint, "POST", "/api/rules/test?to=x@example.com", declaredLength: tooLarge);
        Assert.Equal(413, dry.Status);
        Assert.Contains("Smtp.MaxMessageSize", dry.Body);
    }
}
