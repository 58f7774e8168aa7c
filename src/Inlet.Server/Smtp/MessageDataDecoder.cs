using System.Buffers;

namespace Inlet.Smtp;

/// <summary>Why received message data is refused; found while the data streams.</summary>
[Flags]
internal enum DataFaults
{
    None = 0,

    /// <summary>A CR not followed by LF, or an LF not preceded by CR (RFC 5321 §2.3.8; the SMTP smuggling class).</summary>
    BareLineEnding = 1,

    /// <summary>A line longer than the limit (RFC 5321 §4.5.3.1.6: 1000 octets with CRLF).</summary>
    LineTooLong = 2,

    /// <summary>The header section is longer than the limit.</summary>
    HeaderTooLarge = 4,

    /// <summary>The message is larger than the limit (RFC 1870).</summary>
    TooLarge = 8,
}

/// <summary>
/// Decodes message data as it streams, without I/O: removes the dot-stuffing of DATA (RFC 5321 §4.5.2), finds the
/// end of data, and checks size, line and header limits. Only <c>CRLF.CRLF</c> ends DATA; a bare CR or LF never
/// ends or splits a message — it marks the message as refused, and decoding goes on to the real end of data, so
/// nothing after a fake terminator is ever read as a command (CVE-2023-51764). In chunk mode (BDAT, RFC 3030)
/// there is no dot-stuffing and no terminator; the same checks apply. Once a fault is found no more output is
/// produced, so an oversized or refused message never reaches the disk in full.
/// </summary>
internal sealed class MessageDataDecoder
{
    private const byte Cr = (byte)'\r';
    private const byte Lf = (byte)'\n';
    private const byte Dot = (byte)'.';

    private enum State : byte
    {
        LineStart,
        Text,
        Cr,
        Dot,
        DotCr,
    }

    private readonly bool _dotStuffed;
    private readonly long _maxSize;
    private readonly int _maxLineLength;
    private readonly int _maxHeaderLength;
    private State _state;
    private int _lineLength;
    private bool _lineHasText;
    private bool _inHeader;
    private int _headerLength;

    public MessageDataDecoder(bool dotStuffed, long maxSize, int maxLineLength, int maxHeaderLength)
    {
        _dotStuffed = dotStuffed;
        _maxSize = maxSize;
        _maxLineLength = maxLineLength;
        _maxHeaderLength = maxHeaderLength;
        _state = State.LineStart;
        _inHeader = true;
        Faults = DataFaults.None;
        Size = 0;
    }

    public DataFaults Faults { get; private set; }

    /// <summary>Octets of message content decoded so far (counted even after a fault).</summary>
    public long Size { get; private set; }

    /// <summary>
    /// Decodes from <paramref name="source"/> into <paramref name="destination"/>. Returns
    /// <see cref="OperationStatus.Done"/> when the DATA terminator was consumed,
    /// <see cref="OperationStatus.DestinationTooSmall"/> when the destination needs emptying first, and
    /// <see cref="OperationStatus.NeedMoreData"/> when all of the source was consumed.
    /// </summary>
    public OperationStatus Decode(ReadOnlySpan<byte> source, Span<byte> destination, out int consumed, out int written)
    {
        var i = 0;
        var w = 0;
        while (i < source.Length)
        {
            // Room for a CRLF plus at least one byte of text, so every step makes progress.
            if (destination.Length - w < 3)
            {
                consumed = i;
                written = w;
                return OperationStatus.DestinationTooSmall;
            }

            switch (_state)
            {
                case State.LineStart when _dotStuffed && source[i] == Dot:
                    i++;
                    _lineLength++;
                    _state = State.Dot;
                    break;

                case State.LineStart:
                case State.Text:
                {
                    var rest = source[i..];
                    var room = destination.Length - w - 2;
                    if (rest.Length > room)
                    {
                        rest = rest[..room];
                    }

                    var k = rest.IndexOfAny(Cr, Lf);
                    var run = k < 0 ? rest.Length : k;
                    if (run > 0)
                    {
                        _lineHasText = true;
                        _lineLength += run;
                        if (_lineLength > _maxLineLength)
                        {
                            Fault(DataFaults.LineTooLong);
                        }

                        Emit(rest[..run], destination, ref w);
                        i += run;
                    }

                    _state = State.Text;
                    if (k >= 0)
                    {
                        i++;
                        if (rest[k] == Cr)
                        {
                            _state = State.Cr;
                        }
                        else
                        {
                            // A bare LF is not a line end: were it one, "LF.CRLF" would end the data here while
                            // the next server in line reads on (the SMTP smuggling class).
                            Fault(DataFaults.BareLineEnding);
                        }
                    }

                    break;
                }

                case State.Cr:
                    if (source[i] == Lf)
                    {
                        i++;
                        _lineLength += 2;
                        Emit("\r\n"u8, destination, ref w);
                        if (_lineLength > _maxLineLength)
                        {
                            Fault(DataFaults.LineTooLong);
                        }

                        EndLine();
                    }
                    else
                    {
                        // A bare CR: the byte after it is decoded as text.
                        Fault(DataFaults.BareLineEnding);
                        _state = State.Text;
                    }

                    break;

                case State.Dot:
                    if (source[i] == Cr)
                    {
                        i++;
                        _state = State.DotCr;
                    }
                    else
                    {
                        // "If the first character is a period and there are other characters on the line, the first
                        // character is deleted" (RFC 5321 §4.5.2): the byte after the dot is decoded as text.
                        _state = State.Text;
                    }

                    break;

                case State.DotCr:
                    if (source[i] == Lf)
                    {
                        consumed = i + 1;
                        written = w;
                        _state = State.LineStart;
                        return OperationStatus.Done;
                    }

                    Fault(DataFaults.BareLineEnding);
                    _state = State.Text;
                    break;
            }
        }

        consumed = i;
        written = w;
        return OperationStatus.NeedMoreData;
    }

    /// <summary>For chunk mode, at the end of the last chunk: a dangling CR is a bare CR.</summary>
    public void Finish()
    {
        if (_state is State.Cr or State.DotCr)
        {
            Fault(DataFaults.BareLineEnding);
        }
    }

    private void EndLine()
    {
        if (_inHeader)
        {
            if (!_lineHasText)
            {
                _inHeader = false;
            }
            else
            {
                _headerLength += _lineLength;
                if (_headerLength > _maxHeaderLength)
                {
                    Fault(DataFaults.HeaderTooLarge);
                }
            }
        }

        _lineLength = 0;
        _lineHasText = false;
        _state = State.LineStart;
    }

    private void Emit(ReadOnlySpan<byte> bytes, Span<byte> destination, ref int written)
    {
        Size += bytes.Length;
        if (Size > _maxSize)
        {
            Fault(DataFaults.TooLarge);
        }

        if (Faults == DataFaults.None)
        {
            bytes.CopyTo(destination[written..]);
            written += bytes.Length;
        }
    }

    private void Fault(DataFaults fault) => Faults |= fault;
}
