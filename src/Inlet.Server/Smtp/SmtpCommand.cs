namespace Inlet.Smtp;

internal enum SmtpVerb
{
    Unknown,
    Ehlo,
    Helo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Help,
    StartTls,
    Expn,
    Auth,
}

/// <summary>A command line split into its verb and the text after it (RFC 5321 §4.1.1).</summary>
internal readonly record struct SmtpCommand(SmtpVerb Verb, string Argument, string RawVerb);
