using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Inlet.Mail;

namespace Inlet.Authentication;

/// <summary>What a scanner said about a message: the verdict and a line for the trace and the log.</summary>
internal sealed record ScanOutcome(SesVerdict Verdict, string Detail);

/// <summary>A scanner's address: <c>host:port</c> or the path of a unix socket.</summary>
internal static class ScannerEndPoint
{
    public static bool TryParse(string text, out EndPoint? endPoint)
    {
        endPoint = null;
        if (text.StartsWith('/'))
        {
            endPoint = new UnixDomainSocketEndPoint(text);
            return true;
        }

        if (IPEndPoint.TryParse(text, out var ip) && ip.Port > 0)
        {
            endPoint = ip;
            return true;
        }

        var colon = text.LastIndexOf(':');
        if (colon > 0 && int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535)
        {
            endPoint = new DnsEndPoint(text[..colon], port);
            return true;
        }

        return false;
    }

    public static async Task<Socket> ConnectAsync(EndPoint endPoint, CancellationToken cancellationToken)
    {
        var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>
/// SpamAssassin's spamd over the SPAMC/1.5 protocol (<c>SYMBOLS</c>): the message goes with its
/// <c>Content-length</c>, spamd answers <c>Spam: True ; 15.0 / 5.0</c> and the rules that hit. The score against
/// Inlet's threshold (not spamd's) gives PASS or FAIL.
/// </summary>
internal sealed class SpamdClient(EndPoint endPoint, double threshold)
{
    /// <summary>As spamc: larger messages are not sent to spamd (spamc's <c>-s</c> default, 500 KB).</summary>
    public const long MaxMessageBytes = 500 * 1024;

    public EndPoint EndPoint { get; } = endPoint;

    public async Task<ScanOutcome> ScanAsync(Stream message, long length, CancellationToken cancellationToken)
    {
        if (length > MaxMessageBytes)
        {
            return new ScanOutcome(SesVerdict.Gray, $"not scanned for spam: {length} bytes is over spamc's {MaxMessageBytes}-byte limit");
        }

        using var socket = await ScannerEndPoint.ConnectAsync(EndPoint, cancellationToken);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var request = Encoding.ASCII.GetBytes($"SYMBOLS SPAMC/1.5\r\nContent-length: {length}\r\n\r\n");
        await stream.WriteAsync(request, cancellationToken);
        await message.CopyToAsync(stream, cancellationToken);
        await stream.FlushAsync(cancellationToken);
        socket.Shutdown(SocketShutdown.Send);

        using var reply = new MemoryStream();
        await stream.CopyToAsync(reply, cancellationToken);
        return Interpret(Encoding.ASCII.GetString(reply.GetBuffer(), 0, (int)reply.Length));
    }

    internal ScanOutcome Interpret(string reply)
    {
        var lines = reply.Split("\r\n");
        // "SPAMD/1.1 0 EX_OK"
        var status = lines[0].Split(' ', 3);
        if (status.Length < 2 || !status[0].StartsWith("SPAMD/", StringComparison.Ordinal) || status[1] != "0")
        {
            return new ScanOutcome(SesVerdict.ProcessingFailed, $"spamd answered '{lines[0]}'");
        }

        var spam = lines.FirstOrDefault(l => l.StartsWith("Spam:", StringComparison.OrdinalIgnoreCase));
        // "Spam: True ; 1000.0 / 5.0"
        var parts = spam?[5..].Split([';', '/'], StringSplitOptions.TrimEntries);
        if (parts is not { Length: 3 } || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var score))
        {
            return new ScanOutcome(SesVerdict.ProcessingFailed, $"spamd's reply has no score: '{spam}'");
        }

        var blank = Array.IndexOf(lines, string.Empty);
        var symbols = blank >= 0 && blank + 1 < lines.Length ? string.Join(' ', lines[(blank + 1)..]).Trim() : string.Empty;
        var verdict = score >= threshold ? SesVerdict.Fail : SesVerdict.Pass;
        return new ScanOutcome(verdict, $"spamd score {score.ToString(CultureInfo.InvariantCulture)} (threshold {threshold.ToString(CultureInfo.InvariantCulture)}){(symbols.Length > 0 ? ": " + symbols : string.Empty)}");
    }
}

/// <summary>
/// ClamAV's clamd over <c>zINSTREAM</c>: the message in chunks, each preceded by its length as 4 bytes big-endian, a
/// zero length to end; clamd answers <c>stream: OK</c> or <c>stream: &lt;name&gt; FOUND</c>.
/// </summary>
internal sealed class ClamdClient(EndPoint endPoint)
{
    private const int ChunkSize = 64 * 1024;

    public EndPoint EndPoint { get; } = endPoint;

    public async Task<ScanOutcome> ScanAsync(Stream message, CancellationToken cancellationToken)
    {
        using var socket = await ScannerEndPoint.ConnectAsync(EndPoint, cancellationToken);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync("zINSTREAM\0"u8.ToArray(), cancellationToken);
        var buffer = new byte[4 + ChunkSize];
        while (true)
        {
            var read = await message.ReadAsync(buffer.AsMemory(4, ChunkSize), cancellationToken);
            BinaryPrimitives.WriteUInt32BigEndian(buffer, (uint)read);
            await stream.WriteAsync(buffer.AsMemory(0, 4 + read), cancellationToken);
            if (read == 0)
            {
                break;
            }
        }

        await stream.FlushAsync(cancellationToken);
        using var reply = new MemoryStream();
        var one = new byte[256];
        while (true)
        {
            var read = await stream.ReadAsync(one, cancellationToken);
            if (read == 0)
            {
                break;
            }

            reply.Write(one, 0, read);
            if (one[read - 1] == 0)
            {
                break;
            }
        }

        return Interpret(Encoding.ASCII.GetString(reply.GetBuffer(), 0, (int)reply.Length).TrimEnd('\0', '\n'));
    }

    internal static ScanOutcome Interpret(string reply)
    {
        if (reply.StartsWith("stream: ", StringComparison.Ordinal) && reply.EndsWith(" FOUND", StringComparison.Ordinal))
        {
            var name = reply["stream: ".Length..^" FOUND".Length];
            return new ScanOutcome(SesVerdict.Fail, $"clamd found {name}");
        }

        return reply == "stream: OK"
            ? new ScanOutcome(SesVerdict.Pass, "clamd: no virus found")
            : new ScanOutcome(SesVerdict.ProcessingFailed, $"clamd answered '{reply}'");
    }
}
