using System.Buffers.Text;
using Microsoft.Win32.SafeHandles;

namespace Inlet.Functions;

/// <summary>
/// A process's <c>/proc/PID/status</c>, kept open: a look is one read at offset 0 (procfs renders the file anew on
/// each), not an open, a reader and a close. Rendering it is the dear part, so one read gives both the fields
/// <see cref="EnvironmentMemory"/> wants.
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

    /// <summary>
    /// <c>VmRSS:</c> and <c>VmHWM:</c> (resident memory now and at its peak) in kB, from one read; nulls when the
    /// process is gone.
    /// </summary>
    public (long? ResidentKb, long? PeakKb) Memory()
    {
        if (_handle is null || _handle.IsClosed)
        {
            return (null, null);
        }

        Span<byte> buffer = stackalloc byte[4096];
        int read;
        try
        {
            read = RandomAccess.Read(_handle, buffer, 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            return (null, null);
        }

        var text = buffer[..read];
        return (Kilobytes(text, "VmRSS:"u8), Kilobytes(text, "VmHWM:"u8));
    }

    private static long? Kilobytes(ReadOnlySpan<byte> text, ReadOnlySpan<byte> field)
    {
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
