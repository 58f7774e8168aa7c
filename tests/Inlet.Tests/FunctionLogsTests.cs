using Inlet.Functions;

namespace Inlet.Tests;

/// <summary>The tail of one invocation's log (<c>X-Amz-Log-Type: Tail</c>), among the interleaved lines of others.</summary>
public sealed class FunctionLogsTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "inlet-logs-" + Guid.NewGuid().ToString("N"));
    private readonly FunctionLogs _logs;

    public FunctionLogsTests() => _logs = new FunctionLogs(_directory);

    public void Dispose()
    {
        _logs.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void InvocationTail_InterleavedInvocations_HasOnlyItsOwnLines()
    {
        _logs.Append("f", "s1", "a", "START RequestId: a");
        _logs.Append("f", "s2", "b", "START RequestId: b");
        _logs.Append("f", "s1", "a", "hello from a");
        _logs.Append("f", "s2", "b", "hello from b");
        _logs.Append("f", "s1", null, "a line of no invocation");
        _logs.Append("f", "s1", "a", "END RequestId: a");

        Assert.Equal("START RequestId: a\nhello from a\nEND RequestId: a\n", _logs.InvocationTail("f", "a"));
        Assert.Equal("\n", _logs.InvocationTail("f", "unknown"));
    }

    [Fact]
    public void InvocationTail_LongOutput_IsItsLast4KB()
    {
        for (var i = 0; i < 1000; i++)
        {
            _logs.Append("f", "s1", "a", $"line {i:D4} of a long invocation");
        }

        var tail = _logs.InvocationTail("f", "a");

        Assert.Equal(4096, System.Text.Encoding.UTF8.GetByteCount(tail));
        Assert.EndsWith("line 0999 of a long invocation\n", tail);
    }

    [Fact]
    public void InvocationTail_ManyLaterInvocations_OldOnesAreForgotten()
    {
        _logs.Append("f", "s1", "first", "START RequestId: first");
        for (var i = 0; i < 300; i++)
        {
            _logs.Append("f", "s1", $"r{i}", $"START RequestId: r{i}");
        }

        Assert.Equal("\n", _logs.InvocationTail("f", "first"));
        Assert.Equal("START RequestId: r299\n", _logs.InvocationTail("f", "r299"));
    }

    [Fact]
    public void LinesAppendedTogether_AreWrittenInOrder_AndReadBackFromTheFileAfterARestart()
    {
        _logs.Append("f", "s1", "a", "START RequestId: a");
        _logs.Append("f", "s1", "a", "END RequestId: a", "REPORT RequestId: a\tDuration: 1.00 ms");
        _logs.Append("f", "s1", "b", "START RequestId: b");
        var before = _logs.Tail("f", 10);

        using var restarted = new FunctionLogs(_directory);
        var after = restarted.Tail("f", 10);

        Assert.Equal(["START RequestId: a", "END RequestId: a", "REPORT RequestId: a\tDuration: 1.00 ms", "START RequestId: b"], after.Select(l => l.Text));
        Assert.Equal(before.Select(l => l.Position), after.Select(l => l.Position));
        Assert.Equal(restarted.StoredBytes("f"), new FileInfo(Directory.GetFiles(_directory, "*", SearchOption.AllDirectories).Single()).Length);
        Assert.Equal("START RequestId: a\nEND RequestId: a\nREPORT RequestId: a\tDuration: 1.00 ms\n", _logs.InvocationTail("f", "a"));
    }

    [Fact]
    public void LineAppendedWithNext_IsSeenAtOnce_AndReachesTheFileInTheNextLinesWrite()
    {
        var file = Path.Combine(_directory, "f.log");
        _logs.Append("f", "s1", "a", "END RequestId: a");
        _logs.AppendWithNext("f", "s1", "b", "START RequestId: b");
        var lengthWhileHeld = new FileInfo(file).Length;

        Assert.True(lengthWhileHeld < _logs.StoredBytes("f"), "the held line is counted, not written yet");
        Assert.Equal("START RequestId: b\n", _logs.InvocationTail("f", "b"));
        Assert.Equal(["END RequestId: a", "START RequestId: b"], _logs.Tail("f", 10).Select(l => l.Text));

        _logs.Append("f", "s1", "b", "END RequestId: b", "REPORT RequestId: b");

        Assert.Equal(_logs.StoredBytes("f"), new FileInfo(file).Length);
        Assert.Equal(["END RequestId: a", "START RequestId: b", "END RequestId: b", "REPORT RequestId: b"],
            File.ReadAllLines(file).Select(l => l.Split(' ', 3)[2]));
    }

    [Fact]
    public void LineAppendedWithNext_NothingAfterIt_IsInTheFileOnceTheLogIsClosed()
    {
        _logs.AppendWithNext("f", "s1", "a", "START RequestId: a");
        _logs.Dispose();

        using var restarted = new FunctionLogs(_directory);
        Assert.Equal(["START RequestId: a"], restarted.Tail("f", 10).Select(l => l.Text));
    }
}
