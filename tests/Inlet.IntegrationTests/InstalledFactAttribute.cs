namespace Inlet.IntegrationTests;

/// <summary>A fact that needs programs installed on the machine; it is skipped, with the reason, when one is missing.</summary>
public class InstalledFactAttribute : FactAttribute
{
    private static readonly string[] s_folders = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin"];

    public InstalledFactAttribute(params string[] programs)
    {
        var missing = programs.Where(p => Find(p) is null).ToList();
        if (missing.Count > 0)
        {
            Skip = $"{string.Join(" and ", missing)} {(missing.Count == 1 ? "is" : "are")} not installed";
        }
    }

    /// <summary>The full path of <paramref name="program"/> in PATH or the usual system folders, or null.</summary>
    public static string? Find(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(s_folders)
            .Select(folder => Path.Combine(folder, program))
            .FirstOrDefault(File.Exists);
}
