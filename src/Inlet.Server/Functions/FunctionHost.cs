namespace Inlet.Functions;

/// <summary>
/// What every execution environment gets from the server it runs in, as Lambda gives it: credentials of the
/// function's role, the endpoint its AWS calls go to, and the unprivileged user it runs as.
/// </summary>
internal sealed class FunctionHost(FunctionCredentials credentials, string account, FunctionSandbox sandbox)
{
    public FunctionCredentials Credentials { get; } = credentials;

    public string Account { get; } = account;

    public FunctionSandbox Sandbox { get; } = sandbox;

    /// <summary>What samples every environment's memory, for MemorySize and Max Memory Used.</summary>
    public MemoryWatch MemoryWatch { get; } = new();

    /// <summary>
    /// The AWS SDK for JavaScript v3 the Node runtime provides (<c>node_modules</c> of the runtime folder), or null
    /// when it is not installed: next to the binaries when installed, else where the build put it.
    /// </summary>
    public string? NodeSdkPath { get; init; } = FindNodeSdk();

    private static string? FindNodeSdk()
    {
        var installed = Path.Combine(AppContext.BaseDirectory, "runtimes", "nodejs", "node_modules");
        if (Directory.Exists(installed))
        {
            return installed;
        }

        var built = typeof(FunctionHost).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .OfType<System.Reflection.AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "InletNodeRuntimeFolder")?.Value;
        return built is not null && Directory.Exists(Path.Combine(built, "node_modules", "@aws-sdk")) ? Path.Combine(built, "node_modules") : null;
    }

    /// <summary>Inlet's HTTP endpoint as a function reaches it (<c>AWS_ENDPOINT_URL</c>); known once it is bound.</summary>
    public string? EndpointUrl { get; set; }
}
