using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Inlet.IntegrationTests;

/// <summary>One record of a test zone, or <see cref="Timeout"/>: a name (or type) whose queries are never answered.</summary>
internal sealed record ZoneRecord(string Type, object? Value)
{
    public static readonly ZoneRecord Timeout = new("TIMEOUT", null);

    public static ZoneRecord Txt(params string[] strings) => new("TXT", strings);

    public static ZoneRecord A(string address) => new("A", IPAddress.Parse(address));

    public static ZoneRecord Mx(int preference, string host) => new("MX", (preference, host));
}

/// <summary>
/// An authoritative DNS server on loopback, over UDP and TCP on the same free port, serving a zone held in memory.
/// Names not in the zone get NXDOMAIN; a name with no record of the asked type gets an empty NOERROR answer. A
/// <see cref="ZoneRecord.Timeout"/> entry makes a query go unanswered unless a record of the asked type comes before
/// it — the rule of the openspf test suite's drivers (pyspf <c>testspf.py</c>).
/// </summary>
internal sealed class LoopbackDnsServer : IAsyncDisposable
{
    private const ushort TypeA = 1, TypeNs = 2, TypeCname = 5, TypePtr = 12, TypeMx = 15, TypeTxt = 16, TypeAaaa = 28, TypeSpf = 99, TypeOpt = 41;

    private readonly Dictionary<string, List<ZoneRecord>> _zone = new(StringComparer.OrdinalIgnoreCase);
    private readonly UdpClient _udp;
    private readonly TcpListener _tcp;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _udpLoop;
    private readonly Task _tcpLoop;
    private int _queries;

    public LoopbackDnsServer()
    {
        // The same port for UDP and TCP (DnsClient falls back to TCP on the server's endpoint after a truncated answer).
        while (true)
        {
            _tcp = new TcpListener(IPAddress.Loopback, 0);
            _tcp.Start();
            var port = ((IPEndPoint)_tcp.LocalEndpoint).Port;
            try
            {
                _udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, port));
                break;
            }
            catch (SocketException)
            {
                _tcp.Stop();
            }
        }

        EndPoint = (IPEndPoint)_tcp.LocalEndpoint;
        _udpLoop = UdpLoopAsync();
        _tcpLoop = TcpLoopAsync();
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>Queries received so far (answered or not).</summary>
    public int Queries => Volatile.Read(ref _queries);

    /// <summary>The TTL given to every answer.</summary>
    public int Ttl { get; set; } = 300;

    /// <summary>Answers wait this long before they are sent (a slow resolver).</summary>
    public TimeSpan Delay { get; set; }

    public void Add(string name, params ZoneRecord[] records)
    {
        lock (_zone)
        {
            name = name.TrimEnd('.');
            if (!_zone.TryGetValue(name, out var list))
            {
                _zone[name] = list = [];
            }

            list.AddRange(records);
        }
    }

    public void Clear()
    {
        lock (_zone)
        {
            _zone.Clear();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _udp.Dispose();
        _tcp.Stop();
        await Task.WhenAll(_udpLoop, _tcpLoop).ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }

    private async Task UdpLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            UdpReceiveResult received;
            try
            {
                received = await _udp.ReceiveAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stop.IsCancellationRequested)
                {
                    return;
                }

                continue;
            }

            if (Delay == TimeSpan.Zero)
            {
                // Answered on the loop itself: no wait for a thread-pool thread on a busy machine.
                var answer = await AnswerAsync(received.Buffer, udp: true);
                if (answer is not null)
                {
                    try
                    {
                        await _udp.SendAsync(answer, received.RemoteEndPoint, _stop.Token);
                    }
                    catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
                    {
                    }
                }

                continue;
            }

            _ = Task.Run(async () =>
            {
                var reply = await AnswerAsync(received.Buffer, udp: true);
                if (reply is not null)
                {
                    try
                    {
                        await _udp.SendAsync(reply, received.RemoteEndPoint, _stop.Token);
                    }
                    catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
                    {
                    }
                }
            });
        }
    }

    private async Task TcpLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _tcp.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try
                    {
                        var stream = client.GetStream();
                        var length = new byte[2];
                        while (true)
                        {
                            await stream.ReadExactlyAsync(length, _stop.Token);
                            var query = new byte[BinaryPrimitives.ReadUInt16BigEndian(length)];
                            await stream.ReadExactlyAsync(query, _stop.Token);
                            var reply = await AnswerAsync(query, udp: false);
                            if (reply is null)
                            {
                                // A timeout: hold the connection open, say nothing.
                                await Task.Delay(Timeout.Infinite, _stop.Token);
                                return;
                            }

                            var framed = new byte[reply.Length + 2];
                            BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)reply.Length);
                            reply.CopyTo(framed, 2);
                            await stream.WriteAsync(framed, _stop.Token);
                        }
                    }
                    catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or SocketException or EndOfStreamException)
                    {
                    }
                }
            });
        }
    }

    private async Task<byte[]?> AnswerAsync(byte[] query, bool udp)
    {
        Interlocked.Increment(ref _queries);
        if (query.Length < 12 || BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(4)) != 1)
        {
            return null;
        }

        var offset = 12;
        var labels = new List<string>();
        while (offset < query.Length && query[offset] != 0)
        {
            var length = query[offset++];
            labels.Add(Encoding.Latin1.GetString(query, offset, length));
            offset += length;
        }

        var questionEnd = offset + 5;
        var type = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(offset + 1));
        var name = string.Join('.', labels);
        var additional = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(10));
        var udpLimit = additional > 0 && questionEnd + 11 <= query.Length && BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(questionEnd + 1)) == TypeOpt
            ? Math.Max(512, (int)BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(questionEnd + 3)))
            : 512;

        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay);
        }

        List<ZoneRecord>? entries;
        lock (_zone)
        {
            entries = _zone.TryGetValue(name, out var list) ? Expanded(list) : null;
        }

        var answers = new List<(ushort Type, byte[] Data)>();
        var rcode = 0;
        if (entries is null)
        {
            rcode = 3;
        }
        else
        {
            var timeout = true;
            foreach (var entry in entries)
            {
                if (entry == ZoneRecord.Timeout)
                {
                    if (timeout)
                    {
                        return null;
                    }

                    break;
                }

                var entryType = TypeOf(entry.Type);
                if (entryType == type && ReferenceEquals(entry.Value, ZoneRecord.Timeout))
                {
                    return null;
                }

                if (entryType == type || (entryType == TypeCname && type != TypeCname))
                {
                    timeout = false;
                    answers.Add((entryType, Encode(entry)));
                }
            }
        }

        var response = new List<byte>(512);
        response.AddRange(query.AsSpan(0, 2).ToArray());
        // QR, opcode 0, AA, RD copied; RA; rcode.
        response.Add((byte)(0x84 | (query[2] & 0x01)));
        response.Add((byte)(0x80 | rcode));
        Add16(response, 1);
        Add16(response, (ushort)answers.Count);
        Add16(response, 0);
        Add16(response, 0);
        response.AddRange(query.AsSpan(12, questionEnd - 12).ToArray());
        foreach (var (answerType, data) in answers)
        {
            Add16(response, 0xC00C);
            Add16(response, answerType);
            Add16(response, 1);
            Add16(response, (ushort)(Ttl >> 16));
            Add16(response, (ushort)Ttl);
            Add16(response, (ushort)data.Length);
            response.AddRange(data);
        }

        if (udp && response.Count > udpLimit)
        {
            // Truncated: header and question only, TC set; the client asks again over TCP.
            var truncated = response.Take(questionEnd).ToArray();
            truncated[2] |= 0x02;
            truncated[6] = 0;
            truncated[7] = 0;
            return truncated;
        }

        return [.. response];
    }

    /// <summary>
    /// The entries as the suite's drivers see them: SPF (type 99) records are served as TXT too unless the name has
    /// a TXT entry of its own (a <c>TXT: NONE</c> entry only says "no TXT"); the copies come last.
    /// </summary>
    private static List<ZoneRecord> Expanded(List<ZoneRecord> list)
    {
        var hasTxt = list.Any(r => r.Type == "TXT");
        var result = list.Where(r => !(r.Type == "TXT" && r.Value is null)).ToList();
        if (!hasTxt)
        {
            result.AddRange(list.Where(r => r.Type == "SPF").Select(r => r with { Type = "TXT" }));
        }

        return result;
    }

    private static ushort TypeOf(string type) => type switch
    {
        "A" => TypeA,
        "AAAA" => TypeAaaa,
        "MX" => TypeMx,
        "TXT" => TypeTxt,
        "SPF" => TypeSpf,
        "PTR" => TypePtr,
        "CNAME" => TypeCname,
        "NS" => TypeNs,
        _ => 0,
    };

    private static byte[] Encode(ZoneRecord record)
    {
        var data = new List<byte>();
        switch (record.Type)
        {
            case "A":
            case "AAAA":
                data.AddRange(((IPAddress)record.Value!).GetAddressBytes());
                break;
            case "MX":
                var (preference, host) = ((int, string))record.Value!;
                Add16(data, (ushort)preference);
                AddName(data, host);
                break;
            case "PTR":
            case "CNAME":
            case "NS":
                AddName(data, (string)record.Value!);
                break;
            case "TXT":
            case "SPF":
                foreach (var text in (string[])record.Value!)
                {
                    var bytes = Encoding.UTF8.GetBytes(text);
                    // A character-string holds at most 255 octets; longer text is split (RFC 1035 §3.3.14).
                    for (var i = 0; i == 0 || i < bytes.Length; i += 255)
                    {
                        var chunk = bytes.AsSpan(i, Math.Min(255, bytes.Length - i));
                        data.Add((byte)chunk.Length);
                        data.AddRange(chunk.ToArray());
                    }
                }

                break;
        }

        return [.. data];
    }

    private static void AddName(List<byte> data, string name)
    {
        foreach (var label in name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var bytes = Encoding.Latin1.GetBytes(label);
            data.Add((byte)Math.Min(bytes.Length, 63));
            data.AddRange(bytes.Take(63));
        }

        data.Add(0);
    }

    private static void Add16(List<byte> data, ushort value)
    {
        data.Add((byte)(value >> 8));
        data.Add((byte)value);
    }
}
