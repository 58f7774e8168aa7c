using System.IO.Compression;
using MimeKit;

namespace Inlet.IntegrationTests;

/// <summary>The README's walk-through, command for command: a whole pipeline set up with the aws CLI alone.</summary>
public class WalkthroughTests
{
    [Fact]
    public async Task ReadmeWalkthrough_PipelineFromTheCliAlone_Works()
    {
        await using var server = await TestServer.StartAsync("");
        var zip = Path.Combine(server.Directory, "filter.zip");
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
        using (var writer = new StreamWriter(archive.CreateEntry("index.js").Open()))
        {
            await writer.WriteAsync("""
                exports.handler = async (event) => {
                    const subject = event.Records[0].ses.mail.commonHeaders.subject || '';
                    return { disposition: subject.includes('SPAM') ? 'STOP_RULE_SET' : 'CONTINUE' };
                };
                """);
        }

        async Task<AwsCli.Result> Aws(params string[] arguments)
        {
            var result = await AwsCli.RunAsync(server, arguments);
            Assert.True(result.ExitCode == 0, $"aws {string.Join(' ', arguments)}: {result.Error}");
            return result;
        }

        var topic = (await Aws("sns", "create-topic", "--name", "mail-events")).Json.GetProperty("TopicArn").GetString()!;
        await Aws("lambda", "create-function", "--function-name", "filter", "--runtime", "nodejs20.x", "--handler", "index.handler",
            "--role", "arn:aws:iam::000000000000:role/filter", "--zip-file", "fileb://" + zip);
        await Aws("s3api", "create-bucket", "--bucket", "mail");
        await Aws("ses", "create-receipt-rule-set", "--rule-set-name", "main");
        var rule = """
            {"Name": "filter-then-store", "Enabled": true, "Recipients": ["example.com"],
             "Actions": [
               {"LambdaAction": {"FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:filter", "InvocationType": "RequestResponse"}},
               {"S3Action": {"BucketName": "mail", "ObjectKeyPrefix": "inbox/", "TopicArn": "TOPIC"}}]}
            """.Replace("TOPIC", topic, StringComparison.Ordinal);
        await Aws("ses", "create-receipt-rule", "--rule-set-name", "main", "--rule", rule);
        await Aws("ses", "set-active-receipt-rule-set", "--rule-set-name", "main");

        async Task<string> SendAsync(string subject)
        {
            var message = new MimeMessage();
            message.From.Add(MailboxAddress.Parse("sender@sender.test"));
            message.To.Add(MailboxAddress.Parse("someone@example.com"));
            message.Subject = subject;
            message.Body = new TextPart("plain") { Text = "Hello from the walk-through." };
            var id = await ReceiptRuleTests.SendAsync(server, message);
            await server.WaitForMessageAsync(id);
            return id;
        }

        var ham = await SendAsync("First light");
        var spam = await SendAsync("SPAM offer");
        var output = Path.Combine(server.Directory, "first-light.eml");
        await Aws("s3", "cp", $"s3://mail/inbox/{ham}", output);
        Assert.Contains("Subject: First light", await File.ReadAllTextAsync(output));
        var missing = await AwsCli.RunAsync(server, "s3", "cp", $"s3://mail/inbox/{spam}", output);
        Assert.NotEqual(0, missing.ExitCode);
    }
}
