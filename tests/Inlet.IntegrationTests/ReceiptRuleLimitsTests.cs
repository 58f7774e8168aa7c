namespace Inlet.IntegrationTests;

/// <summary>A rule whose S3 object keys could never be stored is refused when it is made.</summary>
public sealed class ReceiptRuleLimitsTests
{
    [Fact]
    public async Task S3ActionWithAPrefixThatMakesKeysTooLong_IsInvalidS3Configuration()
    {
        await using var server = await TestServer.StartAsync("Buckets: [mail]\nReceiptRuleSets: [{RuleSetName: main}]");
        var prefix = new string('p', 220);
        var create = await AwsCli.RunAsync(server, "ses", "create-receipt-rule", "--rule-set-name", "main", "--rule",
            $$$"""{"Name":"long","Enabled":true,"Actions":[{"S3Action":{"BucketName":"mail","ObjectKeyPrefix":"{{{prefix}}}"}}]}""");
        Assert.NotEqual(0, create.ExitCode);
        Assert.Contains("(InvalidS3Configuration)", create.Error);

        Assert.Equal(0, (await AwsCli.RunAsync(server, "ses", "create-receipt-rule", "--rule-set-name", "main", "--rule",
            """{"Name":"short","Enabled":true,"Actions":[{"S3Action":{"BucketName":"mail","ObjectKeyPrefix":"inbox/"}}]}""")).ExitCode);
        var update = await AwsCli.RunAsync(server, "ses", "update-receipt-rule", "--rule-set-name", "main", "--rule",
            $$$"""{"Name":"short","Enabled":true,"Actions":[{"S3Action":{"BucketName":"mail","ObjectKeyPrefix":"{{{prefix}}}"}}]}""");
        Assert.Contains("(InvalidS3Configuration)", update.Error);

        // Escaping counts: 80 characters of UTF-8 become 240 once percent-encoded.
        var escaped = await AwsCli.RunAsync(server, "ses", "create-receipt-rule", "--rule-set-name", "main", "--rule",
            $$$"""{"Name":"utf8","Enabled":true,"Actions":[{"S3Action":{"BucketName":"mail","ObjectKeyPrefix":"{{{new string('é', 40)}}}"}}]}""");
        Assert.Contains("(InvalidS3Configuration)", escaped.Error);
    }
}
