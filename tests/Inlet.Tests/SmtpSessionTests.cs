using System.Net;
using Inlet.Smtp;

namespace Inlet.Tests;

public class SmtpSessionTests
{
    private sealed class AcceptExampleCom : ISmtpBackend
    {
        public SmtpReply? CheckClient(IPEndPoint? remote) => null;

        public ISmtpTransaction BeginTransaction() => new Transaction();

        public ValueTask<ISmtpMessageWriter> BeginMessageAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        private sealed class Transaction : ISmtpTransaction
        {
            public SmtpReply? CheckRecipient(string address, SmtpClientInfo client) =>
                address.EndsWith("@example.com", StringComparison.OrdinalIgnoreCase) ? null : new SmtpReply(550, "5.1.1", "no");
        }
    }

    private static SmtpSession NewSession(SmtpOptions? options = null) =>
        new(options ?? new SmtpOptions(), new AcceptExampleCom(), new IPEndPoint(IPAddress.Loopback, 5000), tlsAvailable: true);

    private static SmtpStep Run(SmtpSession session, string line) =>
        session.Handle(SmtpCommandParser.Parse(System.Text.Encoding.UTF8.GetBytes(line)));

    [Fact]
    public void Handle_FullTransaction_MovesThroughTheStates()
    {
        var session = NewSession();
        Assert.Equal(SmtpState.Greeted, session.State);
        Assert.Equal(250, Run(session, "EHLO c.test").Reply!.Code);
        Assert.Equal(SmtpState.Ready, session.State);
        Assert.Equal(250, Run(session, "MAIL FROM:<a@b.test>").Reply!.Code);
        Assert.Equal(SmtpState.Mail, session.State);
        Assert.Equal(250, Run(session, "RCPT TO:<x@example.com>").Reply!.Code);
        Assert.Equal(SmtpState.Rcpt, session.State);
        var data = Run(session, "DATA");
        Assert.Equal(354, data.Reply!.Code);
        Assert.Equal(SmtpNext.ReceiveData, data.Next);
        session.CompleteTransaction();
        Assert.Equal(SmtpState.Ready, session.State);
        Assert.Empty(session.Recipients);
    }

    [Theory]
    [InlineData("MAIL FROM:<a@b.test>", 503)]
    [InlineData("RCPT TO:<x@example.com>", 503)]
    [InlineData("DATA", 503)]
    [InlineData("STARTTLS", 503)]
    [InlineData("NOOP", 250)]
    [InlineData("RSET", 250)]
    [InlineData("VRFY x", 252)]
    [InlineData("QUIT", 221)]
    public void Handle_BeforeEhlo_OnlyTheAlwaysAllowedVerbsWork(string line, int code)
    {
        Assert.Equal(code, Run(NewSession(), line).Reply!.Code);
    }

    [Fact]
    public void Handle_EhloMidTransaction_ResetsIt()
    {
        var session = NewSession();
        Run(session, "EHLO c.test");
        Run(session, "MAIL FROM:<a@b.test>");
        Run(session, "RCPT TO:<x@example.com>");
        Run(session, "EHLO c.test");
        Assert.Equal(SmtpState.Ready, session.State);
        Assert.Null(session.MailFrom);
        Assert.Equal(503, Run(session, "DATA").Reply!.Code);
    }

    [Fact]
    public void Handle_RefusedRecipient_DoesNotAdvanceTheState()
    {
        var session = NewSession();
        Run(session, "EHLO c.test");
        Run(session, "MAIL FROM:<a@b.test>");
        Assert.Equal(550, Run(session, "RCPT TO:<x@other.test>").Reply!.Code);
        Assert.Equal(SmtpState.Mail, session.State);
        Assert.Equal(503, Run(session, "DATA").Reply!.Code);
    }

    [Fact]
    public void Handle_Bdat_ReturnsTheChunkToRead()
    {
        var session = NewSession();
        Run(session, "EHLO c.test");
        Run(session, "MAIL FROM:<a@b.test>");
        Run(session, "RCPT TO:<x@example.com>");
        var step = Run(session, "BDAT 1234 LAST");
        Assert.Equal(SmtpNext.ReceiveChunk, step.Next);
        Assert.Equal(1234, step.ChunkSize);
        Assert.True(step.LastChunk);
        Assert.Equal(503, Run(session, "DATA").Reply!.Code);
    }

    [Theory]
    [InlineData("BDAT", false)]
    [InlineData("BDAT x", false)]
    [InlineData("BDAT 10 FIRST", false)]
    [InlineData("BDAT 10", true)]
    [InlineData("BDAT 10 last", true)]
    public void TryParseBdat_Validates(string line, bool valid)
    {
        Assert.Equal(valid, SmtpSession.TryParseBdat(line.Length > 5 ? line[5..] : string.Empty, out _, out _));
    }

    [Fact]
    public void Handle_StartTls_ThenTlsEstablished_RequiresEhloAgain()
    {
        var session = NewSession();
        Run(session, "EHLO c.test");
        Assert.Equal(SmtpNext.StartTls, Run(session, "STARTTLS").Next);
        session.OnTlsEstablished("Tls13");
        Assert.Equal(SmtpState.Greeted, session.State);
        Assert.True(session.IsSecure);
        Assert.DoesNotContain("STARTTLS", Run(session, "EHLO c.test").Reply!.Lines);
        Assert.Equal(503, Run(session, "STARTTLS").Reply!.Code);
    }

    [Fact]
    public void Handle_StrikesPastTheLimit_Close()
    {
        var session = NewSession(new SmtpOptions { MaxBadCommands = 2 });
        Assert.Equal(SmtpNext.Continue, Run(session, "NONSENSE").Next);
        var second = Run(session, "NONSENSE");
        Assert.Equal(SmtpNext.Close, second.Next);
        Assert.Equal(421, second.Reply!.Code);
    }

    [Fact]
    public void Handle_PolicyRefusals_AreNotStrikes()
    {
        var session = NewSession(new SmtpOptions { MaxBadCommands = 2 });
        Run(session, "EHLO c.test");
        Run(session, "MAIL FROM:<a@b.test>");
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(SmtpNext.Continue, Run(session, "RCPT TO:<x@other.test>").Next);
        }
    }
}
