using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace Inlet.IntegrationTests;

/// <summary>
/// S3 presigned URLs as the real clients make them — <c>aws s3 presign</c> (SigV4) and boto3 with
/// <c>signature_version='s3'</c> (SigV2) — fetched by a plain HTTP client, as a browser or curl would.
/// </summary>
public class PresignedUrlTests
{
    private const string Content = "presigned content";

    private static async Task<TestServer> StartWithObjectAsync()
    {
        var server = await TestServer.StartAsync("Buckets: [files]");
        var source = Path.Combine(server.Directory, "doc.txt");
        await File.WriteAllTextAsync(source, Content);
        var put = await AwsCli.RunAsync(server, "s3api", "put-object", "--bucket", "files", "--key", "dir/doc one.txt", "--body", source);
        Assert.True(put.ExitCode == 0, put.Error);
        return server;
    }

    /// <summary>
    /// Presigned URLs made by boto3 for the server, keyed by scenario. <c>shift</c> moves botocore's clock (SigV4
    /// dates a URL by it), <c>expires</c> is ExpiresIn; SigV2 URLs take their Expires from time.time().
    /// </summary>
    private static async Task<Dictionary<string, string>> Boto3UrlsAsync(TestServer server, string scenarios)
    {
        var script = $$"""
            import boto3, botocore.auth, datetime, json, sys
            from botocore.config import Config
            real = botocore.auth.get_current_datetime
            urls = {}
            for name, version, method, shift, expires in {{scenarios}}:
                botocore.auth.get_current_datetime = lambda shift=shift: real() + datetime.timedelta(seconds=shift)
                s3 = boto3.client('s3', endpoint_url='http://{{server.Server.HttpEndPoint}}', region_name='us-east-1',
                                  aws_access_key_id='inlet', aws_secret_access_key='inlet-secret',
                                  config=Config(signature_version=version, s3={'addressing_style': 'path'}))
                urls[name] = s3.generate_presigned_url(method, Params={'Bucket': 'files', 'Key': 'dir/doc one.txt'}, ExpiresIn=expires)
            print(json.dumps(urls))
            """;
        var info = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await error);
        return JsonSerializer.Deserialize<Dictionary<string, string>>(await output)!;
    }

    private static async Task<(HttpStatusCode Status, string Body)> FetchAsync(string url, HttpMethod? method = null)
    {
        using var http = new HttpClient();
        using var response = await http.SendAsync(new HttpRequestMessage(method ?? HttpMethod.Get, url));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static void Refused((HttpStatusCode Status, string Body) response, HttpStatusCode status, string code, string? message = null)
    {
        Assert.Equal(status, response.Status);
        Assert.Contains($"<Code>{code}</Code>", response.Body);
        if (message is not null)
        {
            Assert.Contains($"<Message>{message}</Message>", response.Body);
        }
    }

    [Fact]
    public async Task AwsS3Presign_SigV4AndSigV2_AreFetchedByAPlainHttpClient()
    {
        await using var server = await StartWithObjectAsync();
        var config = Path.Combine(server.Directory, "aws-config");
        await File.WriteAllTextAsync(config, "[default]\nregion = us-east-1\ns3 =\n    signature_version = s3v4\n");
        var v4 = await AwsCli.RunWithConfigAsync(server, config, "s3", "presign", "s3://files/dir/doc one.txt", "--expires-in", "120", "--region", "us-east-1");
        Assert.True(v4.ExitCode == 0, v4.Error);
        var url = v4.Output.Trim();
        Assert.Contains("X-Amz-Algorithm=AWS4-HMAC-SHA256", url);
        Assert.Contains("X-Amz-Expires=120", url);
        Assert.Equal((HttpStatusCode.OK, Content), await FetchAsync(url));
        // The signature covers the path: another object is refused.
        Refused(await FetchAsync(url.Replace("doc%20one.txt", "other.txt", StringComparison.Ordinal)), HttpStatusCode.Forbidden, "SignatureDoesNotMatch");

        // Without that setting the CLI (v1) signs presigned URLs with Signature Version 2.
        var v2 = await AwsCli.RunAsync(server, "s3", "presign", "s3://files/dir/doc one.txt", "--expires-in", "120");
        Assert.True(v2.ExitCode == 0, v2.Error);
        Assert.Contains("AWSAccessKeyId=inlet", v2.Output);
        Assert.Equal((HttpStatusCode.OK, Content), await FetchAsync(v2.Output.Trim()));
    }

    [Fact]
    public async Task SigV4Presign_ExpiredFutureDatedOrOverAWeek_IsRefusedAsS3RefusesIt()
    {
        await using var server = await StartWithObjectAsync();
        var urls = await Boto3UrlsAsync(server, """
            [('fresh', 's3v4', 'get_object', 0, 60), ('head', 's3v4', 'head_object', 0, 60),
             ('old', 's3v4', 'get_object', -400 * 86400, 604800), ('lapsed', 's3v4', 'get_object', -120, 60),
             ('future', 's3v4', 'get_object', 30 * 86400, 60), ('year2099', 's3v4', 'get_object', (datetime.datetime(2099, 1, 1) - datetime.datetime.now()).total_seconds(), 3600),
             ('week', 's3v4', 'get_object', 0, 604800), ('overweek', 's3v4', 'get_object', 0, 604801)]
            """);
        Assert.Equal((HttpStatusCode.OK, Content), await FetchAsync(urls["fresh"]));
        Assert.Equal(HttpStatusCode.OK, (await FetchAsync(urls["head"], HttpMethod.Head)).Status);
        Assert.Equal((HttpStatusCode.OK, Content), await FetchAsync(urls["week"]));
        Refused(await FetchAsync(urls["old"]), HttpStatusCode.Forbidden, "AccessDenied", "Request has expired");
        Refused(await FetchAsync(urls["lapsed"]), HttpStatusCode.Forbidden, "AccessDenied", "Request has expired");
        Refused(await FetchAsync(urls["future"]), HttpStatusCode.Forbidden, "AccessDenied", "Request is not valid yet");
        Refused(await FetchAsync(urls["year2099"]), HttpStatusCode.Forbidden, "AccessDenied", "Request is not valid yet");
        Refused(await FetchAsync(urls["overweek"]), HttpStatusCode.BadRequest, "AuthorizationQueryParametersError", "X-Amz-Expires must be less than a week (in seconds) that is 604800");
        Refused(await FetchAsync(urls["fresh"].Replace("X-Amz-Expires=60", "X-Amz-Expires=x", StringComparison.Ordinal)), HttpStatusCode.BadRequest, "AuthorizationQueryParametersError");
    }

    [Fact]
    public async Task SigV2Presign_FromBoto3_IsFetchedAndItsExpiryAndSignatureAreChecked()
    {
        await using var server = await StartWithObjectAsync();
        var urls = await Boto3UrlsAsync(server, """
            [('get', 's3', 'get_object', 0, 120), ('head', 's3', 'head_object', 0, 120), ('lapsed', 's3', 'get_object', 0, -60)]
            """);
        Assert.Contains("AWSAccessKeyId=inlet", urls["get"]);
        Assert.Contains("Signature=", urls["get"]);
        Assert.DoesNotContain("X-Amz-", urls["get"]);
        Assert.Equal((HttpStatusCode.OK, Content), await FetchAsync(urls["get"]));
        Assert.Equal(HttpStatusCode.OK, (await FetchAsync(urls["head"], HttpMethod.Head)).Status);
        Refused(await FetchAsync(urls["lapsed"]), HttpStatusCode.Forbidden, "AccessDenied", "Request has expired");

        // A URL signed for HEAD is not good for GET; an altered signature or expiry is not good at all.
        Refused(await FetchAsync(urls["head"]), HttpStatusCode.Forbidden, "SignatureDoesNotMatch");
        var expires = System.Text.RegularExpressions.Regex.Match(urls["get"], "Expires=(\\d+)").Groups[1].Value;
        Refused(await FetchAsync(urls["get"].Replace("Expires=" + expires, "Expires=" + (long.Parse(expires, System.Globalization.CultureInfo.InvariantCulture) + 3600), StringComparison.Ordinal)), HttpStatusCode.Forbidden, "SignatureDoesNotMatch");
        Refused(await FetchAsync(urls["get"].Replace("AWSAccessKeyId=inlet", "AWSAccessKeyId=nobody", StringComparison.Ordinal)), HttpStatusCode.Forbidden, "InvalidAccessKeyId");
        Refused(await FetchAsync(urls["get"].Replace("Signature=", "Signature=AA", StringComparison.Ordinal)), HttpStatusCode.Forbidden, "SignatureDoesNotMatch");
    }
}
