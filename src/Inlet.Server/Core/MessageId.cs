using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Inlet.Core;

/// <summary>
/// Message ids in SES's observed form: 40 characters of lower-case base32hex (<c>[0-9a-v]</c>). The first 48 bits
/// are the arrival time in milliseconds, so ids sort by arrival; the other 152 bits are random.
/// </summary>
internal static class MessageId
{
    private const string Alphabet = "0123456789abcdefghijklmnopqrstuv";

    private static readonly object s_gate = new();
    private static readonly byte[] s_last = new byte[19];
    private static long s_lastMilliseconds;

    /// <summary>
    /// A new id. Within one millisecond (or when the clock steps back) the random part of the previous id is
    /// incremented instead of drawn again, so the ids of one process keep arrival order.
    /// </summary>
    public static string New(DateTimeOffset now)
    {
        Span<byte> bytes = stackalloc byte[25];
        lock (s_gate)
        {
            var milliseconds = now.ToUnixTimeMilliseconds();
            if (milliseconds > s_lastMilliseconds)
            {
                s_lastMilliseconds = milliseconds;
                RandomNumberGenerator.Fill(s_last);
                s_last[0] &= 0x7F; // headroom: increments never carry into the time part
            }
            else
            {
                for (var i = s_last.Length - 1; i >= 0 && ++s_last[i] == 0; i--)
                {
                }
            }

            Span<byte> time = stackalloc byte[8];
            BinaryPrimitives.WriteInt64BigEndian(time, s_lastMilliseconds);
            time[2..].CopyTo(bytes);
            s_last.CopyTo(bytes[6..]);
        }

        return Encode(bytes);
    }

    private static string Encode(ReadOnlySpan<byte> bytes)
    {
        // 25 bytes = 200 bits = exactly 40 five-bit characters.
        return string.Create(bytes.Length * 8 / 5, bytes.ToArray(), static (chars, data) =>
        {
            var buffer = 0;
            var bits = 0;
            var c = 0;
            foreach (var b in data)
            {
                buffer = (buffer << 8) | b;
                bits += 8;
                while (bits >= 5)
                {
                    bits -= 5;
                    chars[c++] = Alphabet[(buffer >> bits) & 31];
                }
            }
        });
    }

    public static bool IsValid(string id) =>
        id.Length == 40 && id.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'v'));
}
