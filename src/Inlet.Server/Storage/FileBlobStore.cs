using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Inlet.Storage;

/// <summary>
/// Objects as files: <c>{root}/{container}/{escaped key}</c>, one flat folder per container. A key is escaped
/// into one file name (<c>/</c> becomes <c>%2F</c>), so keys such as <c>a</c> and <c>a/b</c> can both exist, and no
/// key can reach outside its folder. An object is written to a temporary file and renamed on commit after an fsync
/// of the file and of its folder, so a committed object survives a power loss and a half-written one is never
/// visible. A container's own facts live beside its objects in files whose names start with <c>!</c>, which no
/// escaped key can produce: <c>!created</c> (its time is the container's creation time) and <c>!policy</c>.
/// </summary>
internal sealed partial class FileBlobStore(string root) : IBlobStore, ILocalFiles
{
    private const string TempPrefix = "#";

    /// <summary>The part of a temporary file's name drawn once per process (see <see cref="NewTempName"/>).</summary>
    private static readonly string s_tempStem = TempPrefix + Guid.NewGuid().ToString("N") + "-";
    private static long s_tempCounter;

    /// <summary>Uri.EscapeDataString escapes '!', so these names are out of reach of every key.</summary>
    private const string MetaPrefix = "!";
    private const string CreatedMarker = MetaPrefix + "created";
    private const string PolicyFile = MetaPrefix + "policy";

    /// <summary>Longest file name the common file systems take.</summary>
    private const int MaxFileName = 255;

    public string Root { get; } = Path.GetFullPath(root);

    FileBlobStore ILocalFiles.Files => this;

    public Task<bool> ContainerExistsAsync(string container, CancellationToken cancellationToken) =>
        Task.FromResult(Directory.Exists(ContainerPath(container)));

    public Task CreateContainerAsync(string container, CancellationToken cancellationToken)
    {
        var path = ContainerPath(container);
        var existed = Directory.Exists(path);
        Directory.CreateDirectory(path);
        var marker = Path.Combine(path, CreatedMarker);
        if (!File.Exists(marker))
        {
            File.WriteAllBytes(marker, []);
            if (existed)
            {
                // A folder made before markers existed keeps its own creation time.
                File.SetLastWriteTimeUtc(marker, Directory.GetCreationTimeUtc(path));
            }
        }

        return Task.CompletedTask;
    }

    public Task<bool> DeleteContainerAsync(string container, CancellationToken cancellationToken)
    {
        var path = ContainerPath(container);
        if (!Directory.Exists(path))
        {
            return Task.FromResult(false);
        }

        Directory.Delete(path, recursive: true);
        return Task.FromResult(true);
    }

    public IAsyncEnumerable<ContainerInfo> ListContainersAsync(CancellationToken cancellationToken)
    {
        IEnumerable<ContainerInfo> containers = Directory.Exists(Root)
            ? Directory.EnumerateDirectories(Root).Select(d => Path.GetFileName(d)!).Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal).Select(n => new ContainerInfo(n, CreatedUtc(n)))
            : [];
        return containers.ToAsyncEnumerable();
    }

    private DateTime CreatedUtc(string container)
    {
        var path = ContainerPath(container);
        var marker = new FileInfo(Path.Combine(path, CreatedMarker));
        return marker.Exists ? marker.LastWriteTimeUtc : Directory.GetCreationTimeUtc(path);
    }

    public async Task<string?> GetPolicyAsync(string container, CancellationToken cancellationToken)
    {
        var path = Path.Combine(ContainerPath(container), PolicyFile);
        return File.Exists(path) ? await File.ReadAllTextAsync(path, cancellationToken) : null;
    }

    public async Task PutPolicyAsync(string container, string policy, CancellationToken cancellationToken)
    {
        var path = Path.Combine(ContainerPath(container), PolicyFile);
        var temp = Path.Combine(ContainerPath(container), NewTempName());
        await File.WriteAllTextAsync(temp, policy, cancellationToken);
        File.Move(temp, path, overwrite: true);
        SyncDirectory(ContainerPath(container));
    }

    public Task DeletePolicyAsync(string container, CancellationToken cancellationToken)
    {
        File.Delete(Path.Combine(ContainerPath(container), PolicyFile));
        return Task.CompletedTask;
    }

    public Task<IBlobWriter> CreateAsync(string container, string key, CancellationToken cancellationToken)
    {
        var path = PathOf(container, key);
        var temp = TempPathBeside(path);
        var stream = InFolderMadeOnFirstWrite(path, () => new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, FileOptions.Asynchronous));
        return Task.FromResult<IBlobWriter>(new Writer(stream, temp, path));
    }

    /// <summary>
    /// Writes a whole object and makes it visible, without an fsync: the caller keeps the content durable elsewhere
    /// until <see cref="SyncFileSystem"/> (see <see cref="JournaledBucketStore"/>). A reader still never sees half of it.
    /// </summary>
    /// <remarks>
    /// The write is synchronous: without an fsync it only copies the bytes into the page cache, and .NET on Unix has
    /// no asynchronous file I/O, so the asynchronous form would hand the same copy to another thread. The temporary
    /// file is opened unshared: no one else opens it, and a shared lock on a file opened for writing costs .NET a
    /// look at the file system's type first.
    /// </remarks>
    public Task WriteWithoutSyncAsync(string container, string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = PathOf(container, key);
        var temp = TempPathBeside(path);
        using (var handle = InFolderMadeOnFirstWrite(path, () => File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None)))
        {
            try
            {
                RandomAccess.Write(handle, data.Span, 0);
            }
            catch
            {
                handle.Dispose();
                File.Delete(temp);
                throw;
            }
        }

        File.Move(temp, path, overwrite: true);
        return Task.CompletedTask;
    }

    private static string TempPathBeside(string path) =>
        Path.Combine(Path.GetDirectoryName(path)!, NewTempName());

    /// <summary>
    /// A random part drawn once per process and a counter: names no other process and no earlier run uses, without
    /// a read of the system's random source for every object written.
    /// </summary>
    private static string NewTempName() =>
        s_tempStem + Interlocked.Increment(ref s_tempCounter).ToString("x", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Opens a new file beside <paramref name="path"/>; its folder is made on the first write into it, not looked up before every write.</summary>
    private static T InFolderMadeOnFirstWrite<T>(string path, Func<T> open)
    {
        try
        {
            return open();
        }
        catch (DirectoryNotFoundException)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            return open();
        }
    }

    /// <summary>
    /// syncfs(2) of the file system under the root: every file written there so far, and every rename, is on disk
    /// when it returns. Elsewhere than Linux, sync(2), which the file systems of macOS also wait for.
    /// </summary>
    public void SyncFileSystem()
    {
        if (OperatingSystem.IsLinux())
        {
            var fd = Open(Root, 0);
            if (fd < 0)
            {
                throw new IOException($"Cannot open {Root} to flush it: {LastSystemError()}");
            }

            try
            {
                if (Syncfs(fd) != 0)
                {
                    throw new IOException($"syncfs of {Root} failed: {LastSystemError()}");
                }
            }
            finally
            {
                _ = Close(fd);
            }
        }
        else
        {
            Sync();
        }
    }

    public Task<Stream?> OpenReadAsync(string container, string key, CancellationToken cancellationToken)
    {
        var path = PathOf(container, key);
        try
        {
            Stream stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
            return Task.FromResult<Stream?>(stream);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<Stream?>(null);
        }
    }

    public Task<BlobInfo?> GetInfoAsync(string container, string key, CancellationToken cancellationToken)
    {
        var file = new FileInfo(PathOf(container, key));
        return Task.FromResult(file.Exists ? new BlobInfo(key, file.Length, file.LastWriteTimeUtc) : null);
    }

    public Task DeleteAsync(string container, string key, CancellationToken cancellationToken)
    {
        File.Delete(PathOf(container, key));
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<BlobInfo> ListAsync(string container, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var directory = ContainerPath(container);
        if (!Directory.Exists(directory))
        {
            yield break;
        }

        var items = new List<BlobInfo>();
        foreach (var file in new DirectoryInfo(directory).EnumerateFiles())
        {
            if (!file.Name.StartsWith(TempPrefix, StringComparison.Ordinal) && !file.Name.StartsWith(MetaPrefix, StringComparison.Ordinal))
            {
                items.Add(new BlobInfo(Unescape(file.Name), file.Length, file.LastWriteTimeUtc));
            }
        }

        // S3 lists keys in UTF-8 binary order.
        items.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        foreach (var item in items)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return item;
        }

        await Task.CompletedTask;
    }

    /// <summary>Removes temporary files left by writes that never committed (a crash mid-message).</summary>
    public int DeletePartials(string container)
    {
        var directory = ContainerPath(container);
        if (!Directory.Exists(directory))
        {
            return 0;
        }

        var count = 0;
        foreach (var file in Directory.EnumerateFiles(directory, TempPrefix + "*"))
        {
            File.Delete(file);
            count++;
        }

        return count;
    }

    private string ContainerPath(string container)
    {
        if (container.Length == 0 || container.StartsWith('.') || container.IndexOfAny(['/', '\\', '\0', '%', '#']) >= 0)
        {
            throw new ArgumentException($"Invalid container name: '{container}'", nameof(container));
        }

        // Never outside the root, whatever the name.
        var path = Path.GetFullPath(Path.Combine(Root, container));
        if (!string.Equals(Path.GetDirectoryName(path), Root.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
        {
            throw new ArgumentException($"Invalid container name: '{container}'", nameof(container));
        }

        return path;
    }

    private string PathOf(string container, string key)
    {
        if (key.Length == 0)
        {
            throw new ArgumentException("An object key cannot be empty.", nameof(key));
        }

        var name = Escape(key);
        if (System.Text.Encoding.UTF8.GetByteCount(name) > MaxFileName)
        {
            throw new ArgumentException($"Object key too long for the file blob store: '{key}' escapes to more than {MaxFileName} bytes", nameof(key));
        }

        return Path.Combine(ContainerPath(container), name);
    }

    /// <summary>Percent-encodes everything but unreserved characters; "." and ".." are encoded too.</summary>
    internal static string Escape(string key)
    {
        var escaped = Uri.EscapeDataString(key);
        return escaped switch
        {
            "." => "%2E",
            ".." => "%2E%2E",
            _ => escaped,
        };
    }

    internal static string Unescape(string name) => Uri.UnescapeDataString(name);

    /// <summary>The text of the last system call's errno, as strerror(3) gives it (e.g. "Permission denied").</summary>
    private static string LastSystemError() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());

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

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int Syncfs(int fd);

    [LibraryImport("libc", EntryPoint = "sync")]
    private static partial void Sync();

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
            // One synchronous write of what is buffered and the fsync, on this thread: the fsync blocks it anyway.
            cancellationToken.ThrowIfCancellationRequested();
            stream.Flush(flushToDisk: true);
            await stream.DisposeAsync();
            File.Move(temp, path, overwrite: true);
            SyncDirectory(Path.GetDirectoryName(path)!);
            _committed = true;
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                // On a full disk the close itself fails, writing what is buffered; the temporary file goes anyway.
                await stream.DisposeAsync();
            }
            catch (IOException) when (!_committed)
            {
            }
            finally
            {
                if (!_committed)
                {
                    File.Delete(temp);
                }
            }
        }
    }

    /// <summary>Free octets on the file system of a container's folder, or null when unknown.</summary>
    public long? AvailableFreeSpace(string container)
    {
        try
        {
            var path = ContainerPath(container);
            Directory.CreateDirectory(path);
            return new DriveInfo(path).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
