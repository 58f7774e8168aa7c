using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Inlet.Functions;

/// <summary>
/// How far a function is kept from Inlet itself. When Inlet runs as root, functions run as an unprivileged user
/// (<c>FunctionSettings.RunAs</c>, default <c>nobody</c>) through util-linux's <c>setpriv</c>, each environment with
/// its own private <c>/tmp</c> (<c>TMPDIR</c>, <c>HOME</c>); Inlet's data folder is closed to that user. Code and
/// runtimes the user could not read where they are (say under <c>/root</c>) are staged into a world-readable copy,
/// once per content hash. This is process isolation, not a VM: see docs/compatibility.md for what it does not give.
/// </summary>
internal sealed partial class FunctionSandbox
{
    private readonly string _stagingRoot;

    private FunctionSandbox(SandboxUser? user, string stagingRoot)
    {
        User = user;
        _stagingRoot = stagingRoot;
    }

    public sealed record SandboxUser(string Name, uint Uid, uint Gid);

    /// <summary>The user functions run as, or null when they run as Inlet's own user.</summary>
    public SandboxUser? User { get; }

    /// <summary>No separate user: functions run as Inlet's user (Inlet is not root, or RunAs is <c>off</c>).</summary>
    public static FunctionSandbox None { get; } = new(null, Path.Combine(Path.GetTempPath(), "inlet-sandbox"));

    /// <summary>
    /// The sandbox for these settings: <paramref name="runAs"/> null means <c>nobody</c> when Inlet is root and no
    /// separate user otherwise; <c>off</c> turns it off. Throws when the user does not exist or setpriv is missing.
    /// </summary>
    public static FunctionSandbox Create(string? runAs)
    {
        if (!OperatingSystem.IsLinux() || runAs == "off" || (runAs is null && GetEuid() != 0))
        {
            return None;
        }

        var name = runAs ?? "nobody";
        if (GetEuid() != 0)
        {
            throw new InvalidOperationException($"FunctionSettings.RunAs: functions can run as {name} only when Inlet runs as root");
        }

        var user = FindUser(name) ?? throw new InvalidOperationException($"FunctionSettings.RunAs: there is no user named {name} on this machine (see /etc/passwd), or set RunAs: off");
        if (!File.Exists("/usr/bin/setpriv") && !File.Exists("/bin/setpriv"))
        {
            throw new InvalidOperationException("FunctionSettings.RunAs: setpriv (util-linux) is needed to run functions as another user; install util-linux or set RunAs: off");
        }

        var staging = Path.Combine(Path.GetTempPath(), "inlet-sandbox");
        Directory.CreateDirectory(staging);
        File.SetUnixFileMode(staging, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return new FunctionSandbox(user, staging);
    }

    /// <summary>Runs the program as the sandbox user, with no supplementary groups and no capabilities.</summary>
    public void Apply(ProcessStartInfo info)
    {
        if (User is null)
        {
            return;
        }

        var program = info.FileName;
        var arguments = info.ArgumentList.ToList();
        info.FileName = File.Exists("/usr/bin/setpriv") ? "/usr/bin/setpriv" : "/bin/setpriv";
        info.ArgumentList.Clear();
        foreach (var argument in new[] { $"--reuid={User.Uid}", $"--regid={User.Gid}", "--clear-groups", "--inh-caps=-all", "--", program })
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
    }

    /// <summary>
    /// The program to start for a bare name such as <c>node</c> or <c>python3</c>: the first one on the PATH that the
    /// sandbox user can run. Inlet's own PATH may list folders it alone can enter (pyenv under <c>/root</c>, say),
    /// whose programs the function's user could not start.
    /// </summary>
    public string ResolveProgram(string program)
    {
        if (User is null || OperatingSystem.IsWindows() || program.Contains('/'))
        {
            return program;
        }

        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(folder, program);
            if (!File.Exists(candidate))
            {
                continue;
            }

            var target = File.ResolveLinkTarget(candidate, returnFinalTarget: true)?.FullName ?? candidate;
            var directory = Path.GetDirectoryName(Path.GetFullPath(candidate))!;
            if (CanEnter(directory) && CanEnter(Path.GetDirectoryName(target)!) && File.GetUnixFileMode(target).HasFlag(UnixFileMode.OtherExecute))
            {
                return candidate;
            }
        }

        return program;
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static bool CanEnter(string folder)
    {
        for (var current = Path.GetFullPath(folder); current is not null; current = Path.GetDirectoryName(current))
        {
            if (!File.GetUnixFileMode(current).HasFlag(UnixFileMode.OtherExecute))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A private, writable temporary folder for one environment (Lambda's <c>/tmp</c>).</summary>
    public string CreateTempDirectory(string environmentId)
    {
        var path = Path.Combine(Path.GetTempPath(), $"inlet-fn-{environmentId}");
        Directory.CreateDirectory(path);
        if (OperatingSystem.IsWindows())
        {
            return path;
        }

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (User is not null && Chown(path, User.Uid, User.Gid) != 0)
        {
            throw new IOException($"cannot give {path} to user {User.Name}");
        }

        return path;
    }

    public static void DeleteTempDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A process of the function may still hold it; the system cleans /tmp.
        }
    }

    /// <summary>
    /// A folder the sandbox user can read with the same content: the folder itself when it can, otherwise a copy
    /// made once under the staging root (keyed by <paramref name="contentKey"/>).
    /// </summary>
    public string Readable(string folder, string contentKey)
    {
        if (User is null || OperatingSystem.IsWindows() || IsReadableByOthers(folder))
        {
            return folder;
        }

        var target = Path.Combine(_stagingRoot, contentKey);
        if (!Directory.Exists(target))
        {
            var temp = target + ".tmp-" + Guid.NewGuid().ToString("N");
            CopyReadable(folder, temp);
            try
            {
                Directory.Move(temp, target);
            }
            catch (IOException)
            {
                // Another environment staged the same content first.
                Directory.Delete(temp, recursive: true);
            }
        }

        return target;
    }

    /// <summary>Whether every folder from the root down to this one lets others in, and this one lets them read.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static bool IsReadableByOthers(string folder)
    {
        var path = Path.GetFullPath(folder);
        for (var current = path; current is not null; current = Path.GetDirectoryName(current))
        {
            if (!Directory.Exists(current))
            {
                return false;
            }

            var mode = File.GetUnixFileMode(current);
            if (!mode.HasFlag(UnixFileMode.OtherExecute) || (current == path && !mode.HasFlag(UnixFileMode.OtherRead)))
            {
                return false;
            }
        }

        // The entry points live at the top (index.js, bootstrap): each must be readable, and a bootstrap executable.
        foreach (var file in Directory.EnumerateFiles(path))
        {
            var mode = File.GetUnixFileMode(file);
            if (!mode.HasFlag(UnixFileMode.OtherRead) || (mode.HasFlag(UnixFileMode.UserExecute) && !mode.HasFlag(UnixFileMode.OtherExecute)))
            {
                return false;
            }
        }

        return true;
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static void CopyReadable(string source, string target)
    {
        Directory.CreateDirectory(target);
        File.SetUnixFileMode(target, (UnixFileMode)0b111_101_101);
        foreach (var directory in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(target, Path.GetRelativePath(source, directory));
            Directory.CreateDirectory(copy);
            File.SetUnixFileMode(copy, (UnixFileMode)0b111_101_101);
        }

        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(target, Path.GetRelativePath(source, file));
            File.Copy(file, copy);
            var executable = File.GetUnixFileMode(file).HasFlag(UnixFileMode.UserExecute);
            File.SetUnixFileMode(copy, (UnixFileMode)(executable ? 0b111_101_101 : 0b110_100_100));
        }
    }

    /// <summary>Closes a file or folder of Inlet's own to everyone but Inlet's user.</summary>
    public void Protect(string path, bool folder)
    {
        if (User is null || OperatingSystem.IsWindows() || !(folder ? Directory.Exists(path) : File.Exists(path)))
        {
            return;
        }

        File.SetUnixFileMode(path, folder ? UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute : UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>Lets others pass through a folder (to reach what they may read inside) without listing it.</summary>
    public void PassThrough(string folder)
    {
        if (User is null || OperatingSystem.IsWindows() || !Directory.Exists(folder))
        {
            return;
        }

        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
    }

    private static SandboxUser? FindUser(string name)
    {
        foreach (var line in File.ReadLines("/etc/passwd"))
        {
            var fields = line.Split(':');
            if (fields.Length >= 4 && fields[0] == name && uint.TryParse(fields[2], out var uid) && uint.TryParse(fields[3], out var gid))
            {
                return new SandboxUser(name, uid, gid);
            }
        }

        return null;
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "chown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Chown(string path, uint owner, uint group);
}
