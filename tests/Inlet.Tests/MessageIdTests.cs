using Inlet.Core;

namespace Inlet.Tests;

public class MessageIdTests
{
    [Fact]
    public void New_Is40LowerCaseBase32HexCharacters()
    {
        var id = MessageId.New(DateTimeOffset.UtcNow);
        Assert.Matches("^[0-9a-v]{40}$", id);
        Assert.True(MessageId.IsValid(id));
    }

    [Fact]
    public void New_ManyInOneMillisecond_KeepArrivalOrder()
    {
        var now = DateTimeOffset.UtcNow;
        var ids = Enumerable.Range(0, 1000).Select(_ => MessageId.New(now)).ToList();
        Assert.Equal(ids.Order(StringComparer.Ordinal).ToList(), ids);
        Assert.Equal(1000, ids.Distinct().Count());
        Assert.All(ids, id => Assert.True(MessageId.IsValid(id)));
    }

    [Fact]
    public void New_SortsByTime()
    {
        var earlier = MessageId.New(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var later = MessageId.New(new DateTimeOffset(2026, 1, 1, 0, 0, 0, 1, TimeSpan.Zero));
        Assert.True(string.CompareOrdinal(earlier, later) < 0);
    }
}
