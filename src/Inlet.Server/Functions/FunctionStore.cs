using System.IO.Compression;
using System.Security.Cryptography;
using Inlet.Storage;

namespace Inlet.Functions;

/// <summary>
/// Where functions live: their code (a folder is used where it is; a zip is unpacked into
/// <c>functions/&lt;name&gt;/&lt;sha256&gt;/</c> in the data folder, never outside it), and the definitions of the
/// functions made through the API, kept in the state store across restarts.
/// </summary>
internal sealed class FunctionStore(string directory, IFunctionDefinitionStore state)
{
    public string Directory { get; } = directory;

    /// <summary>Keeps a function made or changed through the API, to be loaded again at the next start.</summary>
    public Task SaveAsync(FunctionDefinition function, CancellationToken cancellationToken) =>
        state.PutFunctionAsync(function.FunctionName, System.Text.Json.JsonSerializer.Serialize(function, FunctionDefinitionJsonContext.Default.FunctionDefinition), cancellationToken);

    public Task DeleteAsync(string name, CancellationToken cancellationToken) => state.DeleteFunctionAsync(name, cancellationToken);

    /// <summary>Unpacks a zip uploaded through the API here, and keeps it in the state store for the other nodes.</summary>
    public async Task<FunctionDefinition> InstallSharedZipAsync(FunctionDefinition function, byte[] zip, CancellationToken cancellationToken)
    {
        var installed = InstallZip(function, zip);
        await state.PutCodeAsync(installed.CodeSha256, zip, cancellationToken);
        return installed;
    }

    /// <summary>
    /// A definition made on another node, with its code unpacked here: a zip made through the API is fetched from the
    /// state store by its SHA-256 when this node's folder does not have it. A definition whose code is a folder of the
    /// configuration file, or that this node has, is returned as it is.
    /// </summary>
    public async Task<FunctionDefinition> LocalizeAsync(FunctionDefinition function, CancellationToken cancellationToken)
    {
        if (function.CodePath is null || System.IO.Directory.Exists(function.CodePath) || string.IsNullOrEmpty(function.CodeSha256))
        {
            return function;
        }

        return await state.GetCodeAsync(function.CodeSha256, cancellationToken) is { } zip ? InstallZip(function, zip) : function;
    }

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

    /// <summary>Lambda's limit on a zip uploaded through the API (50 MB).</summary>
    public const long MaxZippedSize = 52_428_800;

    /// <summary>Lambda's limit on a function's unpacked code (250 MB).</summary>
    public const long MaxUnzippedSize = 262_144_000;

    /// <summary>
    /// Unpacks a zip package (CreateFunction's <c>ZipFile</c>) and returns the definition that uses it. Lambda's limits
    /// hold while unpacking, counted in the bytes actually written (an entry's declared size can lie), and an entry
    /// that would land outside the folder (<c>../</c>, an absolute path) or is a symbolic link refuses the whole zip;
    /// a refused zip leaves nothing behind.
    /// </summary>
    public FunctionDefinition InstallZip(FunctionDefinition function, byte[] zip)
    {
        if (zip.Length > MaxZippedSize)
        {
            throw new FunctionCodeException("RequestEntityTooLargeException", 413, $"Zipped file size must be smaller than {MaxZippedSize} bytes");
        }

        var sha = Convert.ToBase64String(SHA256.HashData(zip));
        var folder = Path.Combine(Directory, function.FunctionName, Convert.ToHexString(SHA256.HashData(zip))[..16].ToLowerInvariant());
        if (!System.IO.Directory.Exists(folder))
        {
            var temp = folder + ".tmp-" + Guid.NewGuid().ToString("N");
            System.IO.Directory.CreateDirectory(temp);
            try
            {
                using var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
                Extract(archive, temp);
                RestoreExecutableBits(archive, temp);
                System.IO.Directory.Move(temp, folder);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"Could not unzip uploaded file. Please check your file, then try to upload again. ({e.Message})", e);
            }
            finally
            {
                if (System.IO.Directory.Exists(temp))
                {
                    System.IO.Directory.Delete(temp, recursive: true);
                }
            }
        }

        return function with { CodePath = folder, CodeSha256 = sha, CodeSize = zip.Length };
    }

    private static void Extract(ZipArchive archive, string folder)
    {
        var root = Path.GetFullPath(folder) + Path.DirectorySeparatorChar;
        long total = 0;
        var buffer = new byte[81920];
        foreach (var entry in archive.Entries)
        {
            var name = entry.FullName;
            var unixType = (entry.ExternalAttributes >> 16) & 0xF000;
            if (unixType == 0xA000)
            {
                throw new FunctionCodeException("InvalidParameterValueException", 400, $"Could not unzip uploaded file: the entry '{name}' is a symbolic link, which function code may not contain.");
            }

            var target = Path.GetFullPath(Path.Combine(root, name));
            if (name.Length == 0 || name.Contains('\0') || name.StartsWith('/') || name.StartsWith('\\') || Path.IsPathRooted(name)
                || name.Replace('\\', '/').Split('/').Contains("..") || !target.StartsWith(root, StringComparison.Ordinal))
            {
                throw new FunctionCodeException("InvalidParameterValueException", 400, $"Could not unzip uploaded file: the entry '{name}' would be written outside the function's folder.");
            }

            if (name.EndsWith('/'))
            {
                System.IO.Directory.CreateDirectory(target);
                continue;
            }

            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            using var input = entry.Open();
            using var output = new FileStream(target, FileMode.Create, FileAccess.Write);
            int read;
            while ((read = input.Read(buffer)) > 0)
            {
                total += read;
                if (total > MaxUnzippedSize)
                {
                    throw new FunctionCodeException("InvalidParameterValueException", 400, $"Unzipped size must be smaller than {MaxUnzippedSize} bytes");
                }

                output.Write(buffer, 0, read);
            }
        }
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

/// <summary>Function code that Lambda would refuse: the error code and HTTP status of its answer.</summary>
internal sealed class FunctionCodeException(string code, int status, string message) : Exception(message)
{
    public string Code { get; } = code;

    public int Status { get; } = status;
}
