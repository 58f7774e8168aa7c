using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Inlet.Storage;

/// <summary>
/// Objects as files: <c>{root}/{container}/{key}</c>. An object is written to a temporary name and renamed on
/// commit after an fsync of the file and, on Linux, of its directory, so a committed object survives a power
/// loss and a half-written one is never visible. Container and key names are checked so that no name can reach
/// outside the root.
/// </summary>
internal sealed partial class FileBlobStore(string root) : IBlobStore
{
    private const string PartialSuffix = ".partial";

    public string Root { get; } = Path.GetFullPath(root);

    public Task<IBlobWriter> CreateAsync(string container, string key, CancellationToken cancellationToken)
    {
        var path = PathOf(container, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + "." + Guid.NewGuid().ToString("N") + PartialSuffix;
        var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, FileOptions.Asynchronous);
        return Task.FromResult<IBlobWriter>(new Writer(stream, temp, path));
    }

    public Task<Stream?> OpenReadAsync(string container, string key, CancellationToken cancellationToken)
    {
        var path = PathOf(container, key);
        Stream? stream = File.Exists(path)
            ? new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan)
            : null;
        return Task.FromResult(stream);
    }

    public Task<bool> ExistsAsync(string container, string key, CancellationToken cancellationToken) =>
        Task.FromResult(File.Exists(PathOf(container, key)));

    public Task DeleteAsync(string container, string key, CancellationToken cancellationToken)
    {
        File.Delete(PathOf(container, key));
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<string> ListKeysAsync(string container, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var directory = Path.Combine(Root, CheckName(container));
        if (!Directory.Exists(directory))
        {
            yield break;
        }

        foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var key = Path.GetRelativePath(directory, file).Replace(Path.DirectorySeparatorChar, '/');
            if (!key.EndsWith(PartialSuffix, StringComparison.Ordinal))
            {
                yield return key;
            }
        }

        await Task.CompletedTask;
    }

    /// <summary>Removes temporary files left by writes that never committed (a crash mid-message).</summary>
    public int DeletePartials(string container)
    {
        var directory = Path.Combine(Root, CheckName(container));
        if (!Directory.Exists(directory))
        {
            return 0;
        }

        var count = 0;
        foreach (var file in Directory.EnumerateFiles(directory, "*" + PartialSuffix, SearchOption.AllDirectories))
        {
            File.Delete(file);
            count++;
        }

        return count;
    }

    private string PathOf(string container, string key)
    {
        var directory = Path.Combine(Root, CheckName(container));
        if (key.Length == 0 || key.Contains('\0') || key.Contains('\\'))
        {
            throw new ArgumentException($"Invalid object key: '{key}'", nameof(key));
        }

        foreach (var segment in key.Split('/'))
        {
            if (segment is "" or "." or "..")
            {
                throw new ArgumentException($"Invalid object key: '{key}' (empty, '.' or '..' segments are not stored as files)", nameof(key));
            }
        }

        var full = Path.GetFullPath(Path.Combine(directory, key));
        if (!full.StartsWith(directory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Invalid object key: '{key}'", nameof(key));
        }

        return full;
    }

    private static string CheckName(string container)
    {
        if (container.Length == 0 || container.Contains('/') || container.Contains('\\') || container is "." or ".." || container.Contains('\0'))
        {
            throw new ArgumentException($"Invalid container name: '{container}'", nameof(container));
        }

        return container;
    }

    /// <summary>fsync of a directory, so that a rename in it is durable (POSIX leaves this to the caller).</summary>
    internal static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }

        var fd = Open(directory, 0);
        if (fd < 0)
        {
            return;
        }

        try
        {
            _ = Fsync(fd);
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    private sealed class Writer(FileStream stream, string temp, string path) : IBlobWriter
    {
        private bool _committed;

        public Stream Stream => stream;

        public async Task CommitAsync(CancellationToken cancellationToken)
        {
            await stream.FlushAsync(cancellationToken);
            stream.Flush(flushToDisk: true);
            await stream.DisposeAsync();
            File.Move(temp, path, overwrite: true);
            SyncDirectory(Path.GetDirectoryName(path)!);
            _committed = true;
        }

        public async ValueTask DisposeAsync()
        {
            await stream.DisposeAsync();
            if (!_committed)
            {
                File.Delete(temp);
            }
        }
    }
}
