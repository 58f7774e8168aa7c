using System.Net;
using System.Net.Sockets;
using Inlet.Authentication;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.X509;

namespace Inlet.Tests;

public class DkimKeyCacheTests
{
    private sealed class OneRecord(string record) : IDnsResolver
    {
        public int Lookups { get; private set; }

        public Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken cancellationToken)
        {
            Lookups++;
            return Task.FromResult(new DnsAnswer<string>(DnsStatus.Ok, [record]));
        }

        public Task<DnsAnswer<IPAddress>> AddressesAsync(string name, AddressFamily family, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<DnsAnswer<string>> MxAsync(string name, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken) => throw new NotSupportedException();
    }

    private static string KeyRecord()
    {
        var generator = new RsaKeyPairGenerator();
        generator.Init(new Org.BouncyCastle.Crypto.KeyGenerationParameters(new SecureRandom(), 1024));
        var key = generator.GenerateKeyPair();
        return "v=DKIM1; k=rsa; p=" + Convert.ToBase64String(SubjectPublicKeyInfoFactory.CreateSubjectPublicKeyInfo(key.Public).GetDerEncoded());
    }

    [Fact]
    public async Task LocatePublicKey_SameRecordTwice_IsParsedOnceButLookedUpEachTime()
    {
        var dns = new OneRecord(KeyRecord());
        var locator = new DnsDkimPublicKeyLocator(dns, new KeyCache());

        var first = await locator.LocatePublicKeyAsync("dns/txt", "example.com", "sel");
        var second = await locator.LocatePublicKeyAsync("dns/txt", "example.com", "sel");

        Assert.Same(first, second);
        // The record is still asked for every time (the resolver's TTL cache decides), so a changed key is seen.
        Assert.Equal(2, dns.Lookups);
    }

    [Fact]
    public async Task LocatePublicKey_ChangedRecord_GivesTheNewKey()
    {
        var cache = new KeyCache();
        var before = await new DnsDkimPublicKeyLocator(new OneRecord(KeyRecord()), cache).LocatePublicKeyAsync("dns/txt", "example.com", "sel");
        var after = await new DnsDkimPublicKeyLocator(new OneRecord(KeyRecord()), cache).LocatePublicKeyAsync("dns/txt", "example.com", "sel");

        Assert.NotEqual(before, after);
    }
}
