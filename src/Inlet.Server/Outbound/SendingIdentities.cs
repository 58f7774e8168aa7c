using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Inlet.Mail;
using Inlet.Rules;
using Inlet.Storage;

namespace Inlet.Outbound;

/// <summary>
/// SES sending identities. Every identity is verified at once (there is no DNS or mailbox to check on a self-hosted
/// server): an address verifies itself, a domain verifies its addresses and those of its subdomains (as SES's domain
/// identities do). The recipients of every rule set's rules count as identities too, and also verify what they
/// would receive for: an address its <c>+label</c> forms, a <c>.example.com</c> condition the subdomains of example.com.
/// </summary>
internal sealed partial class SendingIdentities(IIdentityStore state, ReceiptConfigurationProvider receipt, ImmutableArray<string> declared, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, IdentityRecord> _stored = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Reads the identities from the store: at start, and when another node changed them.</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        _stored.ReplaceWith((await state.ListIdentitiesAsync(cancellationToken)).ToDictionary(i => i.Identity, StringComparer.OrdinalIgnoreCase));
    }

    public static bool IsDomainName(string name) => DomainPattern().IsMatch(name) && name.Length <= 253;

    /// <summary>Every identity, each once (the API's first, then the file's, then the rules'), in name order.</summary>
    public IReadOnlyList<SendingIdentity> All()
    {
        var all = new Dictionary<string, SendingIdentity>(StringComparer.OrdinalIgnoreCase);
        foreach (var stored in _stored.Values)
        {
            all.TryAdd(stored.Identity, new SendingIdentity(stored.Identity, stored.Type == "Domain", IdentitySource.Api, stored.VerificationToken));
        }

        foreach (var name in declared)
        {
            all.TryAdd(name, new SendingIdentity(name, !name.Contains('@'), IdentitySource.Configuration, null));
        }

        foreach (var condition in RuleConditions().Where(c => !c.StartsWith('.')))
        {
            all.TryAdd(condition, new SendingIdentity(condition, !condition.Contains('@'), IdentitySource.ReceiptRules, null));
        }

        return [.. all.Values.OrderBy(i => i.Name, StringComparer.OrdinalIgnoreCase)];
    }

    public SendingIdentity? Find(string name) => All().FirstOrDefault(i => string.Equals(i.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Whether an address may be used as a sender: an identity names it, its domain or a parent domain, or a rule receives for it.</summary>
    public bool IsVerified(string address)
    {
        var at = address.LastIndexOf('@');
        if (at <= 0)
        {
            return false;
        }

        var domain = address[(at + 1)..];
        foreach (var identity in All())
        {
            if (identity.IsDomain
                ? domain.Equals(identity.Name, StringComparison.OrdinalIgnoreCase) || domain.EndsWith("." + identity.Name, StringComparison.OrdinalIgnoreCase)
                : address.Equals(identity.Name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return RuleConditions().Any(c => RecipientMatcher.Matches(c, address));
    }

    /// <summary>Creates an identity through the API, or returns the one that exists (a domain keeps its token).</summary>
    public async Task<SendingIdentity> AddAsync(string name, bool isDomain, CancellationToken cancellationToken)
    {
        if (_stored.TryGetValue(name, out var existing))
        {
            return new SendingIdentity(existing.Identity, existing.Type == "Domain", IdentitySource.Api, existing.VerificationToken);
        }

        // SES's domain verification tokens are 32 random bytes in base64.
        var record = new IdentityRecord(isDomain ? name.ToLowerInvariant() : name, isDomain ? "Domain" : "EmailAddress", isDomain ? Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) : null, time.GetUtcNow());
        await state.PutIdentityAsync(record, cancellationToken);
        _stored[record.Identity] = record;
        return new SendingIdentity(record.Identity, isDomain, IdentitySource.Api, record.VerificationToken);
    }

    /// <summary>Deletes an identity created through the API; false when there is none of that name.</summary>
    public async Task<bool> DeleteAsync(string name, CancellationToken cancellationToken)
    {
        if (!_stored.TryGetValue(name, out var existing))
        {
            return false;
        }

        await state.DeleteIdentityAsync(existing.Identity, cancellationToken);
        _stored.TryRemove(name, out _);
        return true;
    }

    private IEnumerable<string> RuleConditions() =>
        receipt.Current.Configuration.RuleSets.SelectMany(s => s.Rules).SelectMany(r => r.Recipients).Select(c => c.Trim()).Where(c => c.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase);

    [GeneratedRegex(@"^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z0-9-]{1,63}$")]
    private static partial Regex DomainPattern();
}
