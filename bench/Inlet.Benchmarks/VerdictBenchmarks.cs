using System.Net;
using BenchmarkDotNet.Attributes;
using Inlet.Authentication;
using Inlet.IntegrationTests;
using Microsoft.Extensions.Logging.Abstractions;
using MimeKit;
using MimeKit.Cryptography;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.X509;

namespace Inlet.Benchmarks;

/// <summary>
/// A message's verdicts: SPF, DKIM (one RSA-2048 signature) and DMARC against a loopback DNS server whose answers are
/// already in the resolver's cache, as for the second message from a sender; then the same with spamd and clamd
/// scanning it. The scanners' addresses come from INLET_BENCH_SPAMD and INLET_BENCH_CLAMD (host:port); without them
/// the scanning benchmark measures nothing useful and says so.
/// </summary>
[MemoryDiagnoser]
public class VerdictBenchmarks
{
    private LoopbackDnsServer _dns = null!;
    private MessageAuthenticator _authenticator = null!;
    private MessageAuthenticator? _scanning;
    private byte[] _message = null!;
    private readonly Envelope _envelope = new("0000000000000000000000000000000000000000", "bounce@good.test", "127.0.0.1", "mail.good.test");

    [GlobalSetup]
    public async Task Setup()
    {
        var generator = new RsaKeyPairGenerator();
        generator.Init(new Org.BouncyCastle.Crypto.KeyGenerationParameters(new SecureRandom(), 2048));
        var key = generator.GenerateKeyPair();
        _dns = new LoopbackDnsServer();
        _dns.Add("good.test", ZoneRecord.Txt("v=spf1 ip4:192.0.2.0/24 include:_spf.good.test -all"));
        _dns.Add("_spf.good.test", ZoneRecord.Txt("v=spf1 ip4:127.0.0.0/8 -all"));
        _dns.Add("sel._domainkey.good.test", ZoneRecord.Txt("v=DKIM1; k=rsa; p=" + Convert.ToBase64String(SubjectPublicKeyInfoFactory.CreateSubjectPublicKeyInfo(key.Public).GetDerEncoded())));
        _dns.Add("_dmarc.good.test", ZoneRecord.Txt("v=DMARC1; p=reject"));

        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("sender@good.test"));
        message.To.Add(MailboxAddress.Parse("user@example.com"));
        message.Subject = "Minutes of Tuesday's meeting";
        message.Date = DateTimeOffset.UtcNow;
        message.MessageId = "bench@good.test";
        message.Body = new TextPart("plain") { Text = string.Concat(Enumerable.Repeat("The minutes of the meeting are below, line by line.\n", 80)) };
        message.Prepare(EncodingConstraint.SevenBit);
        new DkimSigner(key.Private, "good.test", "sel").Sign(message, [HeaderId.From, HeaderId.To, HeaderId.Subject, HeaderId.Date, HeaderId.MessageId]);
        using var buffer = new MemoryStream();
        await message.WriteToAsync(buffer);
        _message = buffer.ToArray();

        var options = new AuthenticationOptions { DnsServers = [_dns.EndPoint] };
        var resolver = new DnsResolver(options.DnsServers, options.DnsTimeout);
        _authenticator = new MessageAuthenticator(options, resolver, PublicSuffixList.Load(null), "inlet.localhost", NullLogger<MessageAuthenticator>.Instance);
        if (Environment.GetEnvironmentVariable("INLET_BENCH_SPAMD") is { } spamd && Environment.GetEnvironmentVariable("INLET_BENCH_CLAMD") is { } clamd)
        {
            _scanning = new MessageAuthenticator(options with { Spamd = spamd, Clamd = clamd }, resolver, PublicSuffixList.Load(null), "inlet.localhost", NullLogger<MessageAuthenticator>.Instance);
        }

        // Warm: every record is in the resolver's cache before measuring.
        await WarmDnsCache();
    }

    private Task<Stream?> Open(CancellationToken cancellationToken) => Task.FromResult<Stream?>(new MemoryStream(_message, writable: false));

    [Benchmark]
    public async Task<string> WarmDnsCache() =>
        (await _authenticator.AuthenticateAsync(_envelope, Open, scan: false, CancellationToken.None)).Verdicts.Dmarc.Status;

    [Benchmark]
    public async Task<string> WithSpamdAndClamd() => _scanning is null
        ? throw new InvalidOperationException("Set INLET_BENCH_SPAMD and INLET_BENCH_CLAMD to running scanners (host:port).")
        : (await _scanning.AuthenticateAsync(_envelope, Open, scan: true, CancellationToken.None)).Verdicts.Spam.Status;

    [GlobalCleanup]
    public async Task Cleanup()
    {
        Console.WriteLine($"// DNS queries answered: {_dns.Queries}");
        await _dns.DisposeAsync();
    }
}
