using System.Net;
using Inlet.Rules;

namespace Inlet.Tests;

public class IpFilterSetTests
{
    [Fact]
    public void IsBlocked_AllowWinsOverBlock()
    {
        var filters = new IpFilterSet([
            new ReceiptFilter("all", IpFilterPolicy.Block, "0.0.0.0/0"),
            new ReceiptFilter("office", IpFilterPolicy.Allow, "192.0.2.0/24"),
        ]);
        Assert.False(filters.IsBlocked(IPAddress.Parse("192.0.2.17")));
        Assert.True(filters.IsBlocked(IPAddress.Parse("198.51.100.1")));
    }

    [Fact]
    public void IsBlocked_SingleAddressAndIpv6()
    {
        var filters = new IpFilterSet([
            new ReceiptFilter("one", IpFilterPolicy.Block, "10.0.0.1"),
            new ReceiptFilter("v6", IpFilterPolicy.Block, "2001:db8::/32"),
        ]);
        Assert.True(filters.IsBlocked(IPAddress.Parse("10.0.0.1")));
        Assert.False(filters.IsBlocked(IPAddress.Parse("10.0.0.2")));
        Assert.True(filters.IsBlocked(IPAddress.Parse("2001:db8::1")));
        Assert.False(filters.IsBlocked(IPAddress.Parse("2001:db9::1")));
    }

    [Fact]
    public void IsBlocked_Ipv4MappedClientMatchesIpv4Filter()
    {
        var filters = new IpFilterSet([new ReceiptFilter("lo", IpFilterPolicy.Block, "127.0.0.0/8")]);
        Assert.True(filters.IsBlocked(IPAddress.Parse("::ffff:127.0.0.1")));
    }

    [Theory]
    [InlineData("10.0.0.1/24", true)]
    [InlineData("10.0.0.0/33", false)]
    [InlineData("10.0.0", false)]
    [InlineData("::1/128", true)]
    [InlineData("not-an-ip", false)]
    public void TryParseCidr_Validates(string cidr, bool valid)
    {
        Assert.Equal(valid, IpFilterSet.TryParseCidr(cidr, out _));
    }
}
