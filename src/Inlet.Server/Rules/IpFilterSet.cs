using System.Net;

namespace Inlet.Rules;

/// <summary>
/// The receipt IP filters, compiled. A client is blocked when a Block filter matches it and no Allow filter does:
/// Allow wins, which is what the SES recipe "block 0.0.0.0/0, allow the trusted addresses" needs.
/// </summary>
internal sealed class IpFilterSet
{
    private readonly IPNetwork[] _allow;
    private readonly IPNetwork[] _block;

    public IpFilterSet(IEnumerable<ReceiptFilter> filters)
    {
        var allow = new List<IPNetwork>();
        var block = new List<IPNetwork>();
        foreach (var filter in filters)
        {
            if (!TryParseCidr(filter.Cidr, out var network))
            {
                throw new ArgumentException($"Invalid CIDR block: {filter.Cidr}", nameof(filters));
            }

            (filter.Policy == IpFilterPolicy.Allow ? allow : block).Add(network);
        }

        _allow = [.. allow];
        _block = [.. block];
    }

    public bool IsBlocked(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return _block.Any(n => n.Contains(address)) && !_allow.Any(n => n.Contains(address));
    }

    /// <summary>A single address (IPv4 or IPv6) or a CIDR range; host bits set below the prefix are tolerated, as SES's own example 10.0.0.1/24 has them.</summary>
    public static bool TryParseCidr(string cidr, out IPNetwork network)
    {
        network = default;
        var slash = cidr.IndexOf('/');
        var addressText = slash < 0 ? cidr : cidr[..slash];
        // IPAddress.TryParse also takes legacy forms such as "10.0.0" or "167772161"; a filter must spell out all four parts.
        var isV6 = addressText.Contains(':');
        if ((!isV6 && addressText.Count(c => c == '.') != 3) || addressText.Contains('%') || !IPAddress.TryParse(addressText, out var address))
        {
            return false;
        }

        var maxPrefix = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128;
        var prefix = maxPrefix;
        if (slash >= 0 && (!int.TryParse(cidr.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out prefix) || prefix > maxPrefix))
        {
            return false;
        }

        network = new IPNetwork(Mask(address, prefix), prefix);
        return true;
    }

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var bits = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - bits));
        }

        return new IPAddress(bytes);
    }
}
