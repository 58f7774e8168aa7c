using System.IO.Compression;
using System.Security.Cryptography;

namespace Inlet.Functions;

/// <summary>
/// Where function code lives: a folder is used where it is; a zip is unpacked into
/// <c>functions/&lt;name&gt;/&lt;sha256&gt;/</c> in the data folder, never outside it.
/// </summary>
internal sealed class FunctionStore(string directory)
{
    public string Directory { get; } = directory;

    /// <summary>The definition with its code in place: CodePath, CodeSha256 and CodeSize filled in.</summary>
    public FunctionDefinition Install(FunctionDefinition function, string? codeSource)
    {
        if (codeSource is null)
        {
            return function;
        }

        if (System.IO.Directory.Exists(codeSource))
        {
            var (sha, size) = HashFolder(codeSource);
            return function with { CodePath = codeSource, CodeSha256 = sha, CodeSize = size };
        }

        return InstallZip(function, File.ReadAllBytes(codeSource));
    }

    /// <summary>Unpacks a zip package (CreateFunction's <c>ZipFile</c>) and returns the definition that uses it.</summary>
    public FunctionDefinition InstallZip(FunctionDefinition function, byte[] zip)
    {
        var sha = Convert.ToBase64String(SHA256.HashData(zip));
        var folder = Path.Combine(Directory, function.FunctionName, Convert.ToHexString(SHA256.HashData(zip))[..16].ToLowerInvariant());
        if (!System.IO.Directory.Exists(folder))
        {
            var temp = folder + ".tmp-" + Guid.NewGuid().ToString("N");
            System.IO.Directory.CreateDirectory(temp);
            try
            {
                using var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
                // ExtractToDirectory refuses entries that would land outside the folder (zip slip).
                archive.ExtractToDirectory(temp);
                RestoreExecutableBits(archive, temp);
            }
            catch (InvalidDataException e)
            {
                System.IO.Directory.Delete(temp, recursive: true);
                throw new InvalidDataException($"Could not unzip uploaded file. Please check your file, then try to upload again. ({e.Message})", e);
            }

            System.IO.Directory.Move(temp, folder);
        }

        return function with { CodePath = folder, CodeSha256 = sha, CodeSize = zip.Length };
    }

    /// <summary>A zip made on Unix keeps file modes in its external attributes; a bootstrap must stay executable.</summary>
    private static void RestoreExecutableBits(ZipArchive archive, string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        foreach (var entry in archive.Entries)
        {
            var mode = (entry.ExternalAttributes >> 16) & 0x1FF;
            var path = Path.Combine(folder, entry.FullName);
            if (File.Exists(path) && (mode & 0x49) != 0 || entry.Name == "bootstrap" && File.Exists(path))
            {
                File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            }
        }
    }

    private static (string Sha, long Size) HashFolder(string folder)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long size = 0;
        foreach (var file in System.IO.Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(folder, file);
            if (relative.StartsWith("node_modules", StringComparison.Ordinal))
            {
                continue;
            }

            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(relative));
            var bytes = File.ReadAllBytes(file);
            hash.AppendData(bytes);
            size += bytes.Length;
        }

        return (Convert.ToBase64String(hash.GetHashAndReset()), size);
    }
}
