using System.Buffers.Text;
using Microsoft.Win32.SafeHandles;

namespace Inlet.Functions;

/// <summary>
/// A process's <c>/proc/PID/status</c>, kept open: a look is one read at offset 0 (procfs renders the file anew on
/// each), not an open, a reader and a close. Every invocation's REPORT looks (Max Memory Used), and so does the
/// memory watch, ten times a second per environment.
/// </summary>
internal sealed class ProcStatus : IDisposable
{
    private readonly SafeFileHandle? _handle;

    public ProcStatus(int pid)
    {
        try
        {
            _handle = File.OpenHandle($"/proc/{pid}/status");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not Linux, or the process is already gone: every look answers null.
        }
    }

    /// <summary>A field given in kB, such as <c>VmHWM:</c> or <c>VmRSS:</c>; null when the process is gone.</summary>
    public long? Kilobytes(ReadOnlySpan<byte> field)
    {
        if (_handle is null || _handle.IsClosed)
        {
            return null;
        }

        Span<byte> buffer = stackalloc byte[4096];
        int read;
        try
        {
            read = RandomAccess.Read(_handle, buffer, 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            return null;
        }

        var text = buffer[..read];
        var at = text.IndexOf(field);
        if (at < 0)
        {
            return null;
        }

        var value = text[(at + field.Length)..].TrimStart(" \t"u8);
        return Utf8Parser.TryParse(value, out long kb, out _) ? kb : null;
    }

    public void Dispose() => _handle?.Dispose();
}
