using System.Collections.Concurrent;
using System.IO.Pipes;
using System.Text;
using Inlet.Functions;

namespace Inlet.Tests;

/// <summary>A runtime's output through real pipes: what a drain logs at once, and what the reader logs on its own.</summary>
public sealed class RuntimeOutputTests : IAsyncDisposable
{
    private readonly AnonymousPipeServerStream _stdout = new(PipeDirection.Out);
    private readonly AnonymousPipeServerStream _stderr = new(PipeDirection.Out);
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly RuntimeOutput _output;

    public RuntimeOutputTests()
    {
        _output = new RuntimeOutput(_lines.Enqueue);
        _output.Start(
            new AnonymousPipeClientStream(PipeDirection.In, _stdout.ClientSafePipeHandle),
            new AnonymousPipeClientStream(PipeDirection.In, _stderr.ClientSafePipeHandle));
    }

    public async ValueTask DisposeAsync()
    {
        _output.Stop();
        await _stdout.DisposeAsync();
        await _stderr.DisposeAsync();
    }

    [Fact]
    public void Start_WithStreamsThatAreNotPipes_SaysWhatItNeeds()
    {
        var output = new RuntimeOutput(_ => { });
        var error = Assert.Throws<PlatformNotSupportedException>(() => output.Start(new MemoryStream(), new MemoryStream()));
        Assert.Contains("MemoryStream", error.Message);
        Assert.Contains("Linux and macOS", error.Message);
    }

    [Fact]
    public void Drain_LogsEverythingWrittenBeforeIt_WithTextWithoutNewlineAsALine()
    {
        Write(_stdout, "one\r\ntwo\nthree");
        Write(_stderr, "oops\n");

        _output.Drain();

        // The reader may have taken stderr's line first; each stream keeps its own order.
        Assert.Equal(["one", "oops", "three", "two"], _lines.Order(StringComparer.Ordinal));
        Assert.Equal(["one", "two", "three"], _lines.Where(l => l != "oops"));
    }

    [Fact]
    public void Drain_KeepsACharacterSplitAcrossWrites()
    {
        var bytes = Encoding.UTF8.GetBytes("é\n");
        _stdout.Write(bytes, 0, 1);
        _stdout.Write(bytes, 1, bytes.Length - 1);

        _output.Drain();

        Assert.Equal(["é"], _lines);
    }

    [Fact]
    public async Task ALineLongerThanTheLimit_IsLoggedInParts()
    {
        // Larger than the pipe: the reader takes the first part while the write still waits.
        await Task.Run(() => Write(_stdout, new string('a', RuntimeOutput.MaxLine + 10) + "\n")).WaitAsync(TimeSpan.FromSeconds(10));

        _output.Drain();

        Assert.Equal([RuntimeOutput.MaxLine, 10], _lines.Select(l => l.Length));
    }

    [Fact]
    public async Task ALineLongerThanTheLimit_AfterAnotherLine_IsCutAtTheLimit_NotWhereAReadEnds()
    {
        // The short line first puts the long one's end in a read of its own, after the start of it was kept.
        await Task.Run(() => Write(_stdout, "x\n" + new string('a', RuntimeOutput.MaxLine + 10) + "\n")).WaitAsync(TimeSpan.FromSeconds(10));

        _output.Drain();

        Assert.Equal([1, RuntimeOutput.MaxLine, 10], _lines.Select(l => l.Length));
    }

    [Fact]
    public async Task ALineCutAtTheLimit_KeepsACharacterThatStraddlesIt_Whole()
    {
        await Task.Run(() => Write(_stdout, new string('a', RuntimeOutput.MaxLine - 1) + "é" + "\n")).WaitAsync(TimeSpan.FromSeconds(10));

        _output.Drain();

        Assert.Equal([new string('a', RuntimeOutput.MaxLine - 1), "é"], _lines);
    }

    [Fact]
    public async Task TheReader_LogsLinesWithoutADrain_AndSeesTheEnd()
    {
        Write(_stdout, "by itself\n");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_lines.IsEmpty && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(["by itself"], _lines);

        Write(_stdout, "last words");
        _stdout.Dispose();
        _stderr.Dispose();
        // Text without a newline is logged when its stream ends.
        await _output.WaitClosedAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["by itself", "last words"], _lines);
    }

    private static void Write(Stream pipe, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        pipe.Write(bytes);
        pipe.Flush();
    }
}
