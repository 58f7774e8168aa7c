using System.Buffers;
using System.Text;
using Inlet.Smtp;

namespace Inlet.Tests;

public class MessageDataDecoderTests
{
    private static (OperationStatus Status, string Output, int Consumed, DataFaults Faults) DecodeWhole(string input, int maxLine = 1000, long maxSize = 1_000_000, int maxHeader = 100_000)
    {
        var decoder = new MessageDataDecoder(dotStuffed: true, maxSize, maxLine, maxHeader);
        var source = Encoding.ASCII.GetBytes(input);
        var destination = new byte[source.Length + 3];
        var status = decoder.Decode(source, destination, out var consumed, out var written);
        return (status, Encoding.ASCII.GetString(destination, 0, written), consumed, decoder.Faults);
    }

    /// <summary>Feeds the input in pieces of <paramref name="step"/> bytes into a small destination, as a slow network would.</summary>
    private static (bool Done, string Output, int Consumed, DataFaults Faults) DecodeInSteps(string input, int step, int destinationSize = 7)
    {
        var decoder = new MessageDataDecoder(dotStuffed: true, 1_000_000, 1000, 100_000);
        var source = Encoding.ASCII.GetBytes(input);
        var output = new StringBuilder();
        var destination = new byte[destinationSize];
        var position = 0;
        while (position < source.Length)
        {
            var piece = source.AsSpan(position, Math.Min(step, source.Length - position));
            var offset = 0;
            while (offset < piece.Length)
            {
                var status = decoder.Decode(piece[offset..], destination, out var consumed, out var written);
                output.Append(Encoding.ASCII.GetString(destination, 0, written));
                offset += consumed;
                if (status == OperationStatus.Done)
                {
                    return (true, output.ToString(), position + offset, decoder.Faults);
                }
            }

            position += piece.Length;
        }

        return (false, output.ToString(), position, decoder.Faults);
    }

    [Fact]
    public void Decode_SimpleMessage_EndsAtTerminatorAndKeepsLastCrlf()
    {
        var (status, output, consumed, faults) = DecodeWhole("Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n");
        Assert.Equal(OperationStatus.Done, status);
        Assert.Equal("Subject: hi\r\n\r\nbody\r\n", output);
        Assert.Equal("Subject: hi\r\n\r\nbody\r\n.\r\n".Length, consumed);
        Assert.Equal(DataFaults.None, faults);
    }

    [Fact]
    public void Decode_EmptyMessage_IsDoneAtOnce()
    {
        var (status, output, consumed, _) = DecodeWhole(".\r\n");
        Assert.Equal(OperationStatus.Done, status);
        Assert.Equal(string.Empty, output);
        Assert.Equal(3, consumed);
    }

    [Theory]
    [InlineData("..leading dot\r\n.\r\n", ".leading dot\r\n")]
    [InlineData("a\r\n..\r\n.\r\n", "a\r\n.\r\n")]
    [InlineData("a\r\n...\r\n.\r\n", "a\r\n..\r\n")]
    [InlineData("a\r\n.x\r\n.\r\n", "a\r\nx\r\n")]
    public void Decode_DotStuffedLines_AreUnstuffed(string input, string expected)
    {
        var (status, output, _, faults) = DecodeWhole(input);
        Assert.Equal(OperationStatus.Done, status);
        Assert.Equal(expected, output);
        Assert.Equal(DataFaults.None, faults);
    }

    [Theory]
    [InlineData("a\n.\nMAIL FROM:<x@y>\r\n")] // LF.LF (Postfix smuggling variant)
    [InlineData("a\r\n.\nMAIL FROM:<x@y>\r\n")] // CRLF.LF
    [InlineData("a\n.\r\nMAIL FROM:<x@y>\r\n")] // LF.CRLF
    [InlineData("a\r.\r\nMAIL FROM:<x@y>\r\n")] // CR.CRLF
    [InlineData("a\r\n.\rMAIL FROM:<x@y>\r\n")] // CRLF.CR
    public void Decode_SmugglingTerminators_NeverEndDataAndMarkTheMessage(string smuggled)
    {
        var decoder = new MessageDataDecoder(dotStuffed: true, 1_000_000, 1000, 100_000);
        var source = Encoding.ASCII.GetBytes(smuggled);
        var destination = new byte[source.Length + 3];
        var status = decoder.Decode(source, destination, out var consumed, out _);
        Assert.Equal(OperationStatus.NeedMoreData, status);
        Assert.Equal(source.Length, consumed);
        Assert.True(decoder.Faults.HasFlag(DataFaults.BareLineEnding));

        // Only the real terminator ends it.
        status = decoder.Decode("\r\n.\r\n"u8, destination, out consumed, out _);
        Assert.Equal(OperationStatus.Done, status);
        Assert.Equal(5, consumed);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(1000)]
    public void Decode_AnySplit_GivesTheSameResult(int step)
    {
        const string input = "From: a@b\r\nSubject: x\r\n\r\n..dot\r\nline two\r\n.\r\nNOOP\r\n";
        var (done, output, consumed, faults) = DecodeInSteps(input, step);
        Assert.True(done);
        Assert.Equal("From: a@b\r\nSubject: x\r\n\r\n.dot\r\nline two\r\n", output);
        Assert.Equal(input.Length - "NOOP\r\n".Length, consumed);
        Assert.Equal(DataFaults.None, faults);
    }

    [Fact]
    public void Decode_EverySplitPoint_GivesTheSameResult()
    {
        const string input = "A: 1\r\n\r\n.x\r\n..\r\n.\r\n";
        for (var split = 0; split <= input.Length; split++)
        {
            var decoder = new MessageDataDecoder(dotStuffed: true, 1_000_000, 1000, 100_000);
            var bytes = Encoding.ASCII.GetBytes(input);
            var destination = new byte[64];
            var status = decoder.Decode(bytes.AsSpan(0, split), destination, out var c1, out var w1);
            var first = Encoding.ASCII.GetString(destination, 0, w1);
            if (status != OperationStatus.Done)
            {
                Assert.Equal(split, c1);
                status = decoder.Decode(bytes.AsSpan(split), destination, out _, out var w2);
                first += Encoding.ASCII.GetString(destination, 0, w2);
            }

            Assert.Equal(OperationStatus.Done, status);
            Assert.Equal("A: 1\r\n\r\nx\r\n.\r\n", first);
        }
    }

    [Fact]
    public void Decode_LineOverLimit_IsFaultedButReadToTheEnd()
    {
        var longLine = new string('x', 999) + "\r\n"; // 1001 octets with CRLF
        var (status, _, _, faults) = DecodeWhole("A: b\r\n\r\n" + longLine + ".\r\n");
        Assert.Equal(OperationStatus.Done, status);
        Assert.Equal(DataFaults.LineTooLong, faults);
    }

    [Fact]
    public void Decode_LineAtLimit_IsAccepted()
    {
        var line = new string('x', 998) + "\r\n"; // exactly 1000 octets
        var (status, _, _, faults) = DecodeWhole("A: b\r\n\r\n" + line + ".\r\n");
        Assert.Equal(OperationStatus.Done, status);
        Assert.Equal(DataFaults.None, faults);
    }

    [Fact]
    public void Decode_OverSize_StopsWritingButFindsTheEnd()
    {
        var body = string.Concat(Enumerable.Repeat("0123456789\r\n", 20));
        var (status, output, _, faults) = DecodeWhole("A: b\r\n\r\n" + body + ".\r\n", maxSize: 100);
        Assert.Equal(OperationStatus.Done, status);
        Assert.True(faults.HasFlag(DataFaults.TooLarge));
        Assert.True(output.Length <= 100);
    }

    [Fact]
    public void Decode_HeaderOverLimit_IsFaulted()
    {
        var headers = string.Concat(Enumerable.Repeat("X-Filler: 0123456789\r\n", 10));
        var (status, _, _, faults) = DecodeWhole(headers + "\r\nbody\r\n.\r\n", maxHeader: 100);
        Assert.Equal(OperationStatus.Done, status);
        Assert.Equal(DataFaults.HeaderTooLarge, faults);
    }

    [Fact]
    public void Decode_BodyLinesDoNotCountAsHeader()
    {
        var body = string.Concat(Enumerable.Repeat("0123456789\r\n", 50));
        var (_, _, _, faults) = DecodeWhole("A: b\r\n\r\n" + body + ".\r\n", maxHeader: 100);
        Assert.Equal(DataFaults.None, faults);
    }

    [Fact]
    public void Decode_ChunkMode_KeepsDotsAndHasNoTerminator()
    {
        var decoder = new MessageDataDecoder(dotStuffed: false, 1000, 1000, 1000);
        var source = "A: b\r\n\r\n.\r\n..x\r\n"u8;
        var destination = new byte[64];
        var status = decoder.Decode(source, destination, out var consumed, out var written);
        decoder.Finish();
        Assert.Equal(OperationStatus.NeedMoreData, status);
        Assert.Equal(source.Length, consumed);
        Assert.Equal("A: b\r\n\r\n.\r\n..x\r\n", Encoding.ASCII.GetString(destination, 0, written));
        Assert.Equal(DataFaults.None, decoder.Faults);
    }

    [Fact]
    public void Decode_ChunkEndingInCr_IsABareCr()
    {
        var decoder = new MessageDataDecoder(dotStuffed: false, 1000, 1000, 1000);
        decoder.Decode("A: b\r\n\r\nx\r"u8, new byte[64], out _, out _);
        decoder.Finish();
        Assert.Equal(DataFaults.BareLineEnding, decoder.Faults);
    }
}
