using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Inlet.Smtp;

namespace Inlet.Benchmarks;

/// <summary>The command path: finding a line in buffered input and splitting it into verb and argument.</summary>
[MemoryDiagnoser]
public class SmtpCommandParserBenchmarks
{
    private ReadOnlySequence<byte> _pipelined;
    private ReadOnlySequence<byte> _multiSegment;

    [GlobalSetup]
    public void Setup()
    {
        _pipelined = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("MAIL FROM:<sender@example.net> SIZE=12345 BODY=8BITMIME\r\nRCPT TO:<user@example.com>\r\nRCPT TO:<other@example.com>\r\nDATA\r\n"));
        var first = new Segment(Encoding.ASCII.GetBytes("MAIL FROM:<sender@exa"));
        var last = first.Append(Encoding.ASCII.GetBytes("mple.net> SIZE=12345\r\n"));
        _multiSegment = new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Four pipelined commands, each read and parsed: the per-transaction command cost.</summary>
    [Benchmark]
    public int PipelinedTransaction()
    {
        var buffer = _pipelined;
        var count = 0;
        while (SmtpLineReader.TryReadLine(buffer, 1024, out var line, out var consumed) == LineStatus.Line)
        {
            count += (int)SmtpCommandParser.Parse(line).Verb;
            buffer = buffer.Slice(consumed);
        }

        return count;
    }

    [Benchmark]
    public int MultiSegmentLine()
    {
        SmtpLineReader.TryReadLine(_multiSegment, 1024, out var line, out _);
        return SmtpCommandParser.Parse(line).Argument.Length;
    }

    [Benchmark]
    public bool MailFromWithParameters() =>
        SmtpPathParser.Parse("FROM:<sender@example.net> SIZE=12345 BODY=8BITMIME", "FROM:", allowNullPath: true).Ok;

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] data) => Memory = data;

        public Segment Append(byte[] data)
        {
            var next = new Segment(data) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}

/// <summary>The DATA decoder on a realistic message: dot-unstuffing, end detection and limits while streaming.</summary>
[MemoryDiagnoser]
public class DataDecoderBenchmarks
{
    private byte[] _message = [];
    private readonly byte[] _destination = new byte[64 * 1024];

    [Params(4 * 1024, 1024 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var text = new StringBuilder("From: a@example.net\r\nTo: b@example.com\r\nSubject: benchmark\r\nMIME-Version: 1.0\r\n\r\n");
        var i = 0;
        while (text.Length < Size)
        {
            // Base64-like lines of 76 characters, with an occasional line that needs dot-unstuffing.
            text.Append(i++ % 50 == 0 ? "..a line that starts with a dot\r\n" : "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n");
        }

        text.Append(".\r\n");
        _message = Encoding.ASCII.GetBytes(text.ToString());
    }

    [Benchmark]
    public long DecodeDotStuffed()
    {
        var decoder = new MessageDataDecoder(dotStuffed: true, 50_000_000, 1000, 1 << 20);
        ReadOnlySpan<byte> source = _message;
        long written = 0;
        while (true)
        {
            var status = decoder.Decode(source, _destination, out var consumed, out var w);
            written += w;
            source = source[consumed..];
            if (status == OperationStatus.Done)
            {
                return written;
            }
        }
    }

    [Benchmark]
    public long DecodeChunk()
    {
        var decoder = new MessageDataDecoder(dotStuffed: false, 50_000_000, 1000, 1 << 20);
        ReadOnlySpan<byte> source = _message;
        long written = 0;
        while (!source.IsEmpty)
        {
            decoder.Decode(source, _destination, out var consumed, out var w);
            written += w;
            source = source[consumed..];
        }

        return written;
    }
}
