using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Inlet.IntegrationTests;

public class SmtpMailKitTests
{
    private static MimeMessage NewMessage(string to = "user@example.com", string subject = "Hello")
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("sender@example.net"));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = subject;
        message.Body = new TextPart("plain") { Text = "Body line one.\n.\nA line that is only a dot, above." };
        return message;
    }

    [Fact]
    public async Task Send_ToMatchingRecipient_IsAcceptedStoredAndListed()
    {
        await using var server = await TestServer.StartAsync();
        using var client = new SmtpClient();
        await client.ConnectAsync("127.0.0.1", server.SmtpPort, SecureSocketOptions.None);
        var reply = await client.SendAsync(NewMessage(subject: "Stored"));
        await client.DisconnectAsync(true);

        var id = reply.Split(' ').Last();
        Assert.Matches("^[0-9a-v]{40}$", id);
        var message = await server.WaitForMessageAsync(id);
        Assert.Equal("Stored", message.GetProperty("subject").GetString());
        Assert.Equal("sender@example.net", message.GetProperty("envelope").GetProperty("mailFrom").GetString());
        Assert.Equal("user@example.com", message.GetProperty("envelope").GetProperty("recipients")[0].GetString());

        var metrics = await server.Http.GetStringAsync("/metrics");
        // The counter is process-wide and other tests run beside this one: at least this message is counted.
        Assert.Matches(@"(?m)^inlet_messages_accepted_total [1-9]\d*$", metrics);

        using var raw = await server.Http.GetAsync($"/api/messages/{id}/raw");
        var text = await raw.Content.ReadAsStringAsync();
        Assert.Contains("\r\n.\r\nA line that is only a dot", text);
        Assert.Contains("Subject: Stored\r\n", text);
    }

    [Fact]
    public async Task Send_ToUnmatchedRecipient_IsRefusedWith550()
    {
        await using var server = await TestServer.StartAsync();
        using var client = new SmtpClient();
        await client.ConnectAsync("127.0.0.1", server.SmtpPort, SecureSocketOptions.None);
        var e = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(NewMessage(to: "user@elsewhere.test")));
        Assert.Equal(SmtpStatusCode.MailboxUnavailable, e.StatusCode);
        Assert.Contains("no enabled receipt rule", e.Message);
    }

    [Fact]
    public async Task Send_OverStartTls_IsAcceptedAndRecordedAsSecure()
    {
        await using var server = await TestServer.StartAsync();
        using var client = new SmtpClient { ServerCertificateValidationCallback = (_, _, _, _) => true };
        await client.ConnectAsync("127.0.0.1", server.SmtpPort, SecureSocketOptions.StartTls);
        Assert.True(client.IsSecure);
        var reply = await client.SendAsync(NewMessage(to: "a@secure.example.org"));
        await client.DisconnectAsync(true);

        var message = await server.WaitForMessageAsync(reply.Split(' ').Last());
        Assert.True(message.GetProperty("envelope").GetProperty("tls").GetBoolean());
    }

    [Fact]
    public async Task Send_TlsRequiredWithoutTls_IsRefusedWith530()
    {
        await using var server = await TestServer.StartAsync();
        using var client = new SmtpClient();
        await client.ConnectAsync("127.0.0.1", server.SmtpPort, SecureSocketOptions.None);
        // MailKit reports 530 as an authentication failure; the server's text says what is needed.
        var e = await Assert.ThrowsAsync<MailKit.ServiceNotAuthenticatedException>(() => client.SendAsync(NewMessage(to: "a@secure.example.org")));
        Assert.Contains("STARTTLS", e.Message);
    }

    [Fact]
    public async Task Send_ManyMessagesOnOneConnection_AreAllStored()
    {
        await using var server = await TestServer.StartAsync();
        using var client = new SmtpClient();
        await client.ConnectAsync("127.0.0.1", server.SmtpPort, SecureSocketOptions.None);
        var ids = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            ids.Add((await client.SendAsync(NewMessage(subject: $"n{i}"))).Split(' ').Last());
        }

        await client.DisconnectAsync(true);
        Assert.Equal(20, ids.Distinct().Count());
        foreach (var id in ids)
        {
            await server.WaitForMessageAsync(id);
        }

        var page = await server.GetJsonAsync("/api/messages?limit=5");
        Assert.Equal(5, page.GetProperty("messages").GetArrayLength());
        Assert.Equal(ids[^1], page.GetProperty("messages")[0].GetProperty("messageId").GetString());
        var next = page.GetProperty("nextToken").GetString();
        var page2 = await server.GetJsonAsync($"/api/messages?limit=5&nextToken={next}");
        Assert.Equal(ids[^6], page2.GetProperty("messages")[0].GetProperty("messageId").GetString());
    }
}
