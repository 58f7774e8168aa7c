using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace Inlet.IntegrationTests;

/// <summary>
/// A deliberately naive SMTP client over a raw socket, for what real clients never send: pipelined batches,
/// smuggling attempts, bare line endings, over-long lines, broken sequences.
/// </summary>
internal sealed class RawSmtpClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private Stream _stream;
    private readonly List<byte> _pending = [];

    private RawSmtpClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    /// <summary>Connects, from <paramref name="local"/> when given (any 127.0.0.0/8 address works on loopback).</summary>
    public static async Task<RawSmtpClient> ConnectAsync(IPEndPoint endPoint, IPAddress? local = null)
    {
        var tcp = local is null ? new TcpClient() : new TcpClient(new IPEndPoint(local, 0));
        await tcp.ConnectAsync(endPoint);
        return new RawSmtpClient(tcp);
    }

    public static TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    public async Task SendAsync(string text) => await SendAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>Reads one reply (all lines of a multi-line reply); returns its lines, or null when the server closed.</summary>
    public async Task<string?> ReadReplyAsync()
    {
        var lines = new List<string>();
        while (true)
        {
            var line = await ReadLineAsync();
            if (line is null)
            {
                return lines.Count == 0 ? null : string.Join("\n", lines);
            }

            lines.Add(line);
            if (line.Length < 4 || line[3] != '-')
            {
                return string.Join("\n", lines);
            }
        }
    }

    /// <summary>Reads a reply and checks its code; returns the reply text.</summary>
    public async Task<string> ExpectAsync(int code)
    {
        var reply = await ReadReplyAsync();
        Assert.NotNull(reply);
        Assert.True(reply.StartsWith(code.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal), $"expected {code}, got: {reply}");
        return reply;
    }

    /// <summary>True when the server has closed the connection (reads end), within the timeout.</summary>
    public async Task<bool> IsClosedAsync()
    {
        try
        {
            return await ReadLineAsync() is null;
        }
        catch (IOException)
        {
            return true;
        }
    }

    private async Task<string?> ReadLineAsync()
    {
        using var cts = new CancellationTokenSource(Timeout);
        var buffer = new byte[1];
        while (true)
        {
            var lf = _pending.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                var line = Encoding.UTF8.GetString(_pending.GetRange(0, lf).ToArray()).TrimEnd('\r');
                _pending.RemoveRange(0, lf + 1);
                return line;
            }

            var read = await _stream.ReadAsync(buffer, cts.Token);
            if (read == 0)
            {
                return null;
            }

            _pending.Add(buffer[0]);
        }
    }

    public async Task StartTlsAsync()
    {
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: false, (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync("localhost");
        _stream = ssl;
    }

    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
