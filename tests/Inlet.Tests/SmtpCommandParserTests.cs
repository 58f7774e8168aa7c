using System.Buffers;
using System.Text;
using Inlet.Smtp;

namespace Inlet.Tests;

public class SmtpCommandParserTests
{
    [Theory]
    [InlineData("EHLO client.example", "Ehlo", "client.example")]
    [InlineData("ehlo client.example", "Ehlo", "client.example")]
    [InlineData("MAIL FROM:<a@b.c> SIZE=100", "Mail", "FROM:<a@b.c> SIZE=100")]
    [InlineData("RCPT TO:<x@y.z>", "Rcpt", "TO:<x@y.z>")]
    [InlineData("DATA", "Data", "")]
    [InlineData("BDAT 100 LAST", "Bdat", "100 LAST")]
    [InlineData("StartTLS", "StartTls", "")]
    [InlineData("QUIT", "Quit", "")]
    [InlineData("FOO bar", "Unknown", "bar")]
    [InlineData("", "Unknown", "")]
    public void Parse_Line_GivesVerbAndArgument(string line, string verb, string argument)
    {
        var command = SmtpCommandParser.Parse(Encoding.ASCII.GetBytes(line));
        Assert.Equal(verb, command.Verb.ToString());
        Assert.Equal(argument, command.Argument);
    }

    [Fact]
    public void TryReadLine_WholeInput_FindsEachLine()
    {
        var buffer = new ReadOnlySequence<byte>("NOOP\r\nRSET\r\nQU"u8.ToArray());
        Assert.Equal(LineStatus.Line, SmtpLineReader.TryReadLine(buffer, 512, out var line, out var consumed));
        Assert.Equal("NOOP", Encoding.ASCII.GetString(line.ToArray()));
        buffer = buffer.Slice(consumed);
        Assert.Equal(LineStatus.Line, SmtpLineReader.TryReadLine(buffer, 512, out line, out consumed));
        Assert.Equal("RSET", Encoding.ASCII.GetString(line.ToArray()));
        buffer = buffer.Slice(consumed);
        Assert.Equal(LineStatus.NeedMore, SmtpLineReader.TryReadLine(buffer, 512, out _, out consumed));
        Assert.Equal(buffer.Start, consumed);
    }

    [Fact]
    public void TryReadLine_ByteByByte_ConsumesNothingUntilTheLineEnds()
    {
        var bytes = "MAIL FROM:<a@b>\r\n"u8.ToArray();
        for (var n = 0; n < bytes.Length; n++)
        {
            var status = SmtpLineReader.TryReadLine(new ReadOnlySequence<byte>(bytes, 0, n), 512, out _, out _);
            Assert.Equal(LineStatus.NeedMore, status);
        }

        Assert.Equal(LineStatus.Line, SmtpLineReader.TryReadLine(new ReadOnlySequence<byte>(bytes), 512, out var line, out _));
        Assert.Equal("MAIL FROM:<a@b>", Encoding.ASCII.GetString(line.ToArray()));
    }

    [Fact]
    public void TryReadLine_MultiSegment_FindsTheLine()
    {
        var first = new TestSegment("MAIL FR"u8.ToArray());
        var last = first.Append("OM:<a@b>\r"u8.ToArray()).Append("\nNOOP"u8.ToArray());
        var buffer = new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        Assert.Equal(LineStatus.Line, SmtpLineReader.TryReadLine(buffer, 512, out var line, out var consumed));
        Assert.Equal("MAIL FROM:<a@b>", Encoding.ASCII.GetString(line.ToArray()));
        Assert.Equal("NOOP", Encoding.ASCII.GetString(buffer.Slice(consumed).ToArray()));
    }

    [Fact]
    public void TryReadLine_OverLimit_IsTooLongBeforeTheLineEnds()
    {
        var bytes = Encoding.ASCII.GetBytes(new string('A', 600));
        Assert.Equal(LineStatus.TooLong, SmtpLineReader.TryReadLine(new ReadOnlySequence<byte>(bytes), 512, out _, out _));
    }

    [Fact]
    public void TryReadLine_LfOnly_IsAccepted()
    {
        Assert.Equal(LineStatus.Line, SmtpLineReader.TryReadLine(new ReadOnlySequence<byte>("NOOP\n"u8.ToArray()), 512, out var line, out _));
        Assert.Equal("NOOP", Encoding.ASCII.GetString(line.ToArray()));
    }

    private sealed class TestSegment : ReadOnlySequenceSegment<byte>
    {
        public TestSegment(byte[] data) => Memory = data;

        public TestSegment Append(byte[] data)
        {
            var next = new TestSegment(data) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
