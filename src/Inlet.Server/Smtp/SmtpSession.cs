using System.Globalization;
using System.Net;

namespace Inlet.Smtp;

internal enum SmtpState
{
    /// <summary>Greeted; only EHLO/HELO (and the always-allowed verbs) make sense.</summary>
    Greeted,

    /// <summary>After EHLO/HELO, no transaction.</summary>
    Ready,

    /// <summary>MAIL FROM accepted.</summary>
    Mail,

    /// <summary>At least one RCPT TO accepted.</summary>
    Rcpt,

    /// <summary>BDAT chunks received, the LAST one not yet.</summary>
    Bdat,
}

/// <summary>What the transport does after a command has been handled.</summary>
internal enum SmtpNext
{
    Continue,
    Close,
    StartTls,
    ReceiveData,
    ReceiveChunk,

    /// <summary>Read and throw away a BDAT chunk that was refused (RFC 3030 §2: the data must still be read).</summary>
    DiscardChunk,
}

internal readonly record struct SmtpStep(SmtpReply? Reply, SmtpNext Next = SmtpNext.Continue, long ChunkSize = 0, bool LastChunk = false);

/// <summary>
/// The state of one SMTP session and the handling of each command — no I/O. The sequence rules are a table
/// (state → verbs allowed), so "503 bad sequence" falls out of it; the transport does the reading and writing.
/// </summary>
internal sealed class SmtpSession
{
    private static readonly Dictionary<SmtpState, HashSet<SmtpVerb>> s_allowed = new()
    {
        [SmtpState.Greeted] = [],
        [SmtpState.Ready] = [SmtpVerb.Mail, SmtpVerb.StartTls],
        [SmtpState.Mail] = [SmtpVerb.Rcpt],
        [SmtpState.Rcpt] = [SmtpVerb.Rcpt, SmtpVerb.Data, SmtpVerb.Bdat],
        [SmtpState.Bdat] = [SmtpVerb.Bdat],
    };

    private readonly SmtpOptions _options;
    private readonly ISmtpBackend _backend;
    private ISmtpTransaction? _transaction;
    private readonly bool _tlsAvailable;
    private readonly List<string> _recipients = [];

    public SmtpSession(SmtpOptions options, ISmtpBackend backend, IPEndPoint? remote, bool tlsAvailable)
    {
        _options = options;
        _backend = backend;
        _tlsAvailable = tlsAvailable;
        RemoteEndPoint = remote;
    }

    public SmtpState State { get; private set; } = SmtpState.Greeted;

    public IPEndPoint? RemoteEndPoint { get; }

    public string? ClientName { get; private set; }

    public bool IsSecure { get; private set; }

    public string? TlsProtocol { get; private set; }

    public string? MailFrom { get; private set; }

    public IReadOnlyList<string> Recipients => _recipients;

    public bool SmtpUtf8 { get; private set; }

    public string BodyType { get; private set; } = "7BIT";

    public int BadCommands { get; private set; }

    public SmtpReply Greeting => new(220, null, $"{_options.Hostname} ESMTP Inlet");

    public SmtpClientInfo ClientInfo => new(RemoteEndPoint, ClientName, IsSecure);

    public SmtpEnvelope CreateEnvelope(DateTimeOffset receivedAt) =>
        new(MailFrom ?? string.Empty, [.. _recipients], RemoteEndPoint, ClientName, IsSecure, TlsProtocol, SmtpUtf8, BodyType, receivedAt, _transaction ??= _backend.BeginTransaction());

    /// <summary>Handles one parsed command and says what the transport does next.</summary>
    public SmtpStep Handle(SmtpCommand command)
    {
        var step = Dispatch(command);
        return step.Reply is { } reply && IsStrike(reply) ? Strike(step) : step;
    }

    /// <summary>Counts a protocol error; past the limit the session ends with 421 (a bounded number of strikes).</summary>
    public SmtpStep Strike(SmtpStep step)
    {
        BadCommands++;
        return BadCommands >= _options.MaxBadCommands ? new SmtpStep(SmtpReply.TooManyErrors, SmtpNext.Close) : step;
    }

    /// <summary>Protocol errors count as strikes; policy refusals (unknown recipient, too large) do not.</summary>
    private static bool IsStrike(SmtpReply reply) => reply.Code is 500 or 501 or 502 or 503 or 555;

    private SmtpStep Dispatch(SmtpCommand command)
    {
        switch (command.Verb)
        {
            case SmtpVerb.Ehlo:
                return Ehlo(command.Argument, extended: true);
            case SmtpVerb.Helo:
                return Ehlo(command.Argument, extended: false);
            case SmtpVerb.Noop:
                return new SmtpStep(SmtpReply.Ok);
            case SmtpVerb.Quit:
                return new SmtpStep(SmtpReply.Bye, SmtpNext.Close);
            case SmtpVerb.Rset:
                ResetTransaction();
                return new SmtpStep(SmtpReply.ResetOk);
            case SmtpVerb.Vrfy:
                return new SmtpStep(command.Argument.Length == 0 ? new SmtpReply(501, "5.5.4", "Syntax: VRFY address") : SmtpReply.CannotVerify);
            case SmtpVerb.Help:
                return new SmtpStep(SmtpReply.Help);
            case SmtpVerb.Expn:
            case SmtpVerb.Auth:
                return new SmtpStep(SmtpReply.NotImplemented);
            case SmtpVerb.Unknown:
                return new SmtpStep(SmtpReply.CommandUnrecognized);
        }

        if (!s_allowed[State].Contains(command.Verb))
        {
            return new SmtpStep(OutOfSequence(command.Verb), command.Verb == SmtpVerb.Bdat ? SmtpNext.DiscardChunk : SmtpNext.Continue, ChunkSizeOrZero(command));
        }

        return command.Verb switch
        {
            SmtpVerb.StartTls => StartTls(command.Argument),
            SmtpVerb.Mail => Mail(command.Argument),
            SmtpVerb.Rcpt => Rcpt(command.Argument),
            SmtpVerb.Data => command.Argument.Length > 0 ? new SmtpStep(SmtpReply.NoArguments) : new SmtpStep(SmtpReply.StartMailInput, SmtpNext.ReceiveData),
            SmtpVerb.Bdat => Bdat(command.Argument),
            _ => new SmtpStep(SmtpReply.CommandUnrecognized),
        };
    }

    private SmtpReply OutOfSequence(SmtpVerb verb) => (State, verb) switch
    {
        (SmtpState.Greeted, _) => SmtpReply.NeedEhlo,
        (SmtpState.Ready, SmtpVerb.Rcpt or SmtpVerb.Data or SmtpVerb.Bdat) => SmtpReply.NeedMail,
        (SmtpState.Mail, SmtpVerb.Data or SmtpVerb.Bdat) => SmtpReply.NeedRecipient,
        (SmtpState.Mail or SmtpState.Rcpt or SmtpState.Bdat, SmtpVerb.Mail) => SmtpReply.NestedMail,
        (SmtpState.Bdat, SmtpVerb.Data) => SmtpReply.DataAfterBdat,
        (_, SmtpVerb.StartTls) when IsSecure => SmtpReply.AlreadyTls,
        _ => SmtpReply.BadSequence,
    };

    private static long ChunkSizeOrZero(SmtpCommand command) =>
        command.Verb == SmtpVerb.Bdat && TryParseBdat(command.Argument, out var size, out _) ? size : 0;

    private SmtpStep Ehlo(string argument, bool extended)
    {
        var name = argument.Split(' ', 2)[0];
        if (name.Length == 0)
        {
            return new SmtpStep(extended ? SmtpReply.EhloNeedsDomain : SmtpReply.HeloNeedsDomain);
        }

        // EHLO mid-transaction resets it (RFC 5321 §4.1.4).
        ResetTransaction();
        ClientName = name;
        State = SmtpState.Ready;
        if (!extended)
        {
            return new SmtpStep(new SmtpReply(250, null, $"{_options.Hostname} Hello {name}"));
        }

        var lines = new List<string>
        {
            $"{_options.Hostname} Hello {name}",
            "PIPELINING",
            "8BITMIME",
            "SMTPUTF8",
            $"SIZE {_options.MaxMessageSize.ToString(CultureInfo.InvariantCulture)}",
            "ENHANCEDSTATUSCODES",
            "CHUNKING",
        };
        if (_tlsAvailable && !IsSecure)
        {
            lines.Add("STARTTLS");
        }

        return new SmtpStep(new SmtpReply(250, null, lines));
    }

    private SmtpStep StartTls(string argument)
    {
        if (argument.Length > 0)
        {
            return new SmtpStep(SmtpReply.NoArguments);
        }

        if (IsSecure)
        {
            return new SmtpStep(SmtpReply.AlreadyTls);
        }

        return _tlsAvailable ? new SmtpStep(SmtpReply.ReadyToStartTls, SmtpNext.StartTls) : new SmtpStep(SmtpReply.TlsNotAvailable);
    }

    /// <summary>After the TLS handshake the session starts over, as if just greeted (RFC 3207 §4.2).</summary>
    public void OnTlsEstablished(string protocol)
    {
        ResetTransaction();
        ClientName = null;
        IsSecure = true;
        TlsProtocol = protocol;
        State = SmtpState.Greeted;
    }

    private SmtpStep Mail(string argument)
    {
        if (!argument.StartsWith("FROM:", StringComparison.OrdinalIgnoreCase))
        {
            return new SmtpStep(SmtpReply.MailSyntax);
        }

        var parsed = SmtpPathParser.Parse(argument, "FROM:", allowNullPath: true);
        if (!parsed.Ok)
        {
            return new SmtpStep(SmtpReply.BadSenderAddress);
        }

        var smtpUtf8 = false;
        var body = "7BIT";
        foreach (var parameter in parsed.Parameters)
        {
            switch (parameter.Keyword)
            {
                case "SIZE":
                    if (!long.TryParse(parameter.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var declared))
                    {
                        return new SmtpStep(new SmtpReply(501, "5.5.4", "Syntax: SIZE=octets"));
                    }

                    if (declared > _options.MaxMessageSize)
                    {
                        return new SmtpStep(SmtpReply.MessageTooLarge(_options.MaxMessageSize));
                    }

                    break;
                case "BODY" when parameter.Value is not null && (parameter.Value.Equals("7BIT", StringComparison.OrdinalIgnoreCase) || parameter.Value.Equals("8BITMIME", StringComparison.OrdinalIgnoreCase)):
                    body = parameter.Value.ToUpperInvariant();
                    break;
                case "SMTPUTF8" when parameter.Value is null:
                    smtpUtf8 = true;
                    break;
                default:
                    return new SmtpStep(SmtpReply.UnsupportedParameter(parameter.Value is null ? parameter.Keyword : $"{parameter.Keyword}={parameter.Value}"));
            }
        }

        if (!smtpUtf8 && !SmtpPathParser.IsAscii(parsed.Address))
        {
            return new SmtpStep(SmtpReply.Utf8AddressNeedsSmtpUtf8);
        }

        if (_backend.CheckStorage() is { } full)
        {
            return new SmtpStep(full);
        }

        MailFrom = parsed.Address;
        _transaction = _backend.BeginTransaction();
        SmtpUtf8 = smtpUtf8;
        BodyType = body;
        State = SmtpState.Mail;
        return new SmtpStep(SmtpReply.SenderOk);
    }

    private SmtpStep Rcpt(string argument)
    {
        if (!argument.StartsWith("TO:", StringComparison.OrdinalIgnoreCase))
        {
            return new SmtpStep(SmtpReply.RcptSyntax);
        }

        var parsed = SmtpPathParser.Parse(argument, "TO:", allowNullPath: false);
        if (!parsed.Ok)
        {
            return new SmtpStep(SmtpReply.BadRecipientAddress);
        }

        if (parsed.Parameters.Count > 0)
        {
            var first = parsed.Parameters[0];
            return new SmtpStep(SmtpReply.UnsupportedParameter(first.Value is null ? first.Keyword : $"{first.Keyword}={first.Value}"));
        }

        if (!SmtpUtf8 && !SmtpPathParser.IsAscii(parsed.Address))
        {
            return new SmtpStep(SmtpReply.Utf8AddressNeedsSmtpUtf8);
        }

        if (_recipients.Count >= _options.MaxRecipients)
        {
            return new SmtpStep(SmtpReply.TooManyRecipients);
        }

        var refusal = (_transaction ??= _backend.BeginTransaction()).CheckRecipient(parsed.Address, ClientInfo);
        if (refusal is not null)
        {
            return new SmtpStep(refusal);
        }

        _recipients.Add(parsed.Address);
        State = SmtpState.Rcpt;
        return new SmtpStep(SmtpReply.RecipientOk);
    }

    private SmtpStep Bdat(string argument)
    {
        if (!TryParseBdat(argument, out var size, out var last))
        {
            // Without a size the chunk cannot be skipped: the stream is out of step, so close (RFC 3030 §2).
            return new SmtpStep(SmtpReply.BdatSyntax, SmtpNext.Close);
        }

        State = SmtpState.Bdat;
        return new SmtpStep(null, SmtpNext.ReceiveChunk, size, last);
    }

    internal static bool TryParseBdat(string argument, out long size, out bool last)
    {
        size = 0;
        last = false;
        var parts = argument.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length is < 1 or > 2)
        {
            return false;
        }

        if (parts.Length == 2)
        {
            if (!parts[1].Equals("LAST", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            last = true;
        }

        return long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out size);
    }

    /// <summary>Ends the transaction after a message was accepted or refused (RFC 5321 §4.1.1.4).</summary>
    public void CompleteTransaction() => ResetTransaction();

    private void ResetTransaction()
    {
        MailFrom = null;
        _transaction = null;
        _recipients.Clear();
        SmtpUtf8 = false;
        BodyType = "7BIT";
        if (State is SmtpState.Mail or SmtpState.Rcpt or SmtpState.Bdat)
        {
            State = SmtpState.Ready;
        }
    }
}
