using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using MimeKit;

namespace Inlet.IntegrationTests;

/// <summary>The <c>inlet</c> command line as a user runs it: the real executable against a server on port 0.</summary>
public class InletCliTests
{
    [Fact]
    public async Task MessagesRaw_EightBitMessage_WritesTheStoredBytesExactly()
    {
        await using var server = await TestServer.StartAsync();
        // Bytes that are not UTF-8 (Latin-1 é, 0xFF) and CRLF line ends: a text writer would replace or re-encode them.
        var sent = Encoding.ASCII.GetBytes("From: a@sender.test\r\nTo: b@example.com\r\nSubject: raw\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf")
            .Concat(new byte[] { 0xE9, 0x20, 0xFF, 0x80, 0x0D, 0x0A })
            .Concat(Encoding.ASCII.GetBytes("last line\r\n"))
            .ToArray();
        await using (var smtp = await RawSmtpClient.ConnectAsync(server.Smtp))
        {
            await smtp.ExpectAsync(220);
            await smtp.SendAsync("EHLO client.test\r\n");
            await smtp.ExpectAsync(250);
            await smtp.SendAsync("MAIL FROM:<a@sender.test> BODY=8BITMIME\r\n");
            await smtp.ExpectAsync(250);
            await smtp.SendAsync("RCPT TO:<b@example.com>\r\n");
            await smtp.ExpectAsync(250);
            await smtp.SendAsync("DATA\r\n");
            await smtp.ExpectAsync(354);
            await smtp.SendAsync([.. sent, .. "."u8, 0x0D, 0x0A]);
            var reply = await smtp.ExpectAsync(250);
            var id = reply.Split(' ').Last();
            await server.WaitForMessageAsync(id);

            var result = await InletCli.RunAsync("messages", "raw", id, "--server", InletCli.Server(server));

            Assert.True(result.ExitCode == 0, result.Stderr);
            Assert.Equal(sent, result.Stdout);
        }
    }

    [Fact]
    public async Task Event_AfterLambdaActionRan_IsTheEventTheFunctionGotAndInvokesAgain()
    {
        var posted = Channel.CreateUnbounded<string>();
        await using var hook = await StartHookAsync(posted);
        await using var server = await TestServer.StartAsync($$"""
            Functions:
              - FunctionName: webhook
                Runtime: http
                Url: {{hook.Urls.Single()}}/hook
            Topics:
              - Name: mail-events
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: hook
                    Enabled: true
                    Recipients: [example.com]
                    Actions:
                      - AddHeaderAction: { HeaderName: X-Before, HeaderValue: seen }
                      - LambdaAction: { FunctionArn: webhook, InvocationType: RequestResponse, TopicArn: "arn:aws:sns:us-east-1:000000000000:mail-events" }
                      - AddHeaderAction: { HeaderName: X-After, HeaderValue: unseen }
            ActiveReceiptRuleSet: main
            """);
        var id = await SendAsync(server, "event of a run", "b@example.com", "c@example.com");
        await server.WaitForMessageAsync(id);
        var received = await posted.Reader.ReadAsync();

        var result = await InletCli.RunAsync("event", id, "--server", InletCli.Server(server));

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("Lambda action 2 of rule hook", result.Stderr);
        // The function's event to the byte, but for the processing time, which is rebuilt from the trace.
        Assert.Equal(WithoutProcessingTime(received), WithoutProcessingTime(result.Output));
        Assert.DoesNotContain("X-After", result.Output);
        Assert.Contains("X-Before", result.Output);

        var file = Path.Combine(server.Directory, "event.json");
        await File.WriteAllBytesAsync(file, result.Stdout);
        var invoke = await InletCli.RunAsync("invoke", "webhook", "--event", file, "--server", InletCli.Server(server));
        Assert.True(invoke.ExitCode == 0, invoke.Stderr);
        Assert.Equal(result.Output, await posted.Reader.ReadAsync());
    }

    [Fact]
    public async Task Event_NoLambdaActionRan_NamesThePlaceholderOrTheGivenFunction()
    {
        await using var server = await TestServer.StartAsync();
        var id = await SendAsync(server, "no function here", "b@example.com");
        await server.WaitForMessageAsync(id);

        var placeholder = await InletCli.RunAsync("event", id, "--server", InletCli.Server(server));
        var named = await InletCli.RunAsync("event", id, "--function", "filter", "--server", InletCli.Server(server));

        Assert.True(placeholder.ExitCode == 0, placeholder.Stderr);
        var record = JsonDocument.Parse(placeholder.Stdout).RootElement.GetProperty("Records")[0];
        Assert.Equal("aws:ses", record.GetProperty("eventSource").GetString());
        Assert.Equal("1.0", record.GetProperty("eventVersion").GetString());
        var ses = record.GetProperty("ses");
        Assert.Equal(id, ses.GetProperty("mail").GetProperty("messageId").GetString());
        Assert.Equal("no function here", ses.GetProperty("mail").GetProperty("commonHeaders").GetProperty("subject").GetString());
        Assert.Equal(["b@example.com"], ses.GetProperty("receipt").GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));
        var action = ses.GetProperty("receipt").GetProperty("action");
        Assert.Equal("Lambda", action.GetProperty("type").GetString());
        Assert.Equal("arn:aws:lambda:us-east-1:000000000000:function:Example", action.GetProperty("functionArn").GetString());
        Assert.Equal("Event", action.GetProperty("invocationType").GetString());

        Assert.True(named.ExitCode == 0, named.Stderr);
        Assert.Equal(
            "arn:aws:lambda:us-east-1:000000000000:function:filter",
            JsonDocument.Parse(named.Stdout).RootElement.GetProperty("Records")[0].GetProperty("ses").GetProperty("receipt").GetProperty("action").GetProperty("functionArn").GetString());
    }

    [Fact]
    public async Task SendAttach_TwoFiles_ArriveAsAttachmentsWithGuessedTypes()
    {
        await using var server = await TestServer.StartAsync();
        var pdf = Path.Combine(server.Directory, "report.pdf");
        var png = Path.Combine(server.Directory, "logo.png");
        byte[] pdfBytes = [.. "%PDF-1.4\n"u8, 0x00, 0xFF, 0xE9];
        byte[] pngBytes = [0x89, .. "PNG\r\n"u8, 0x1A, 0x0A, 0x00];
        await File.WriteAllBytesAsync(pdf, pdfBytes);
        await File.WriteAllBytesAsync(png, pngBytes);

        var result = await InletCli.RunAsync("send", "--server", server.Smtp.ToString(), "--to", "b@example.com", "--attach", pdf, "--attach", png);

        Assert.True(result.ExitCode == 0, result.Stderr);
        var id = result.Output.Trim().Split(' ').Last();
        await server.WaitForMessageAsync(id);
        using var raw = await server.Http.GetStreamAsync($"/api/messages/{id}/raw");
        var message = await MimeMessage.LoadAsync(raw);
        Assert.Equal("Hello from Inlet.", message.TextBody?.Trim());
        var attachments = message.Attachments.OfType<MimePart>().ToList();
        Assert.Equal(["report.pdf", "logo.png"], attachments.Select(a => a.FileName));
        Assert.Equal(["application/pdf", "image/png"], attachments.Select(a => a.ContentType.MimeType));
        Assert.Equal(pdfBytes, Decode(attachments[0]));
        Assert.Equal(pngBytes, Decode(attachments[1]));
    }

    [Fact]
    public async Task MessagesList_SeveralRecipients_ShowsThemOnTheMessagesLine()
    {
        await using var server = await TestServer.StartAsync();
        var id = await SendAsync(server, "two of them", "ann@example.com", "bob@example.com");
        await server.WaitForMessageAsync(id);

        var result = await InletCli.RunAsync("messages", "--server", InletCli.Server(server));

        Assert.True(result.ExitCode == 0, result.Stderr);
        var lines = result.Output.Split('\n');
        Assert.Contains(" TO ", lines[0]);
        var line = Assert.Single(lines, l => l.StartsWith(id, StringComparison.Ordinal));
        Assert.Contains("ann@example.com, bob@example.com", line);
    }

    [Fact]
    public async Task ApiErrors_UnknownFunctionAndMessage_PrintCodeAndMessageOnOneLine()
    {
        await using var server = await TestServer.StartAsync();

        var invoke = await InletCli.RunAsync("invoke", "nosuch", "--server", InletCli.Server(server));
        var logs = await InletCli.RunAsync("logs", "nosuch", "--server", InletCli.Server(server));
        var @event = await InletCli.RunAsync("event", "0000000000000000000000000000000000000000", "--server", InletCli.Server(server));

        const string notFound = "inlet: ResourceNotFoundException: Function not found: arn:aws:lambda:us-east-1:000000000000:function:nosuch";
        Assert.Equal(1, invoke.ExitCode);
        Assert.Equal(notFound, invoke.Stderr.TrimEnd('\n'));
        Assert.Equal(1, logs.ExitCode);
        Assert.Equal(notFound, logs.Stderr.TrimEnd('\n'));
        Assert.Equal(1, @event.ExitCode);
        Assert.StartsWith("inlet: MessageNotFound: No message with id ", @event.Stderr);
        Assert.Empty(@event.Stdout);
    }

    [Fact]
    public async Task ApiCommand_NothingListening_SaysWhichUrlItTried()
    {
        // A port that was free a moment ago: connecting to it is refused.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        listener.Stop();

        var result = await InletCli.RunAsync("messages", "--server", url);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"inlet: cannot reach Inlet at {url} (", line);
        Assert.Contains("is `inlet serve` running?", line);
    }

    private static async Task<WebApplication> StartHookAsync(Channel<string> posted)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var hook = builder.Build();
        hook.MapPost("/hook", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            await posted.Writer.WriteAsync(await reader.ReadToEndAsync());
            return Results.Text("""{"disposition":"CONTINUE"}""", "application/json");
        });
        await hook.StartAsync();
        return hook;
    }

    private static Task<string> SendAsync(TestServer server, string subject, params string[] to)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("a@sender.test"));
        foreach (var recipient in to)
        {
            message.To.Add(MailboxAddress.Parse(recipient));
        }

        message.Subject = subject;
        message.Body = new TextPart("plain") { Text = "x" };
        return ReceiptRuleTests.SendAsync(server, message);
    }

    private static string WithoutProcessingTime(string json)
    {
        var millis = Regex.Matches(json, "\"processingTimeMillis\":(\\d+)");
        Assert.True(Assert.Single(millis).Groups[1].Value is not "0", json);
        return Regex.Replace(json.TrimEnd('\n'), "\"processingTimeMillis\":\\d+", "\"processingTimeMillis\":0");
    }

    private static byte[] Decode(MimePart part)
    {
        using var bytes = new MemoryStream();
        part.Content!.DecodeTo(bytes);
        return bytes.ToArray();
    }
}
