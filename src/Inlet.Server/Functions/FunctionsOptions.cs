using Inlet.Storage;

namespace Inlet.Functions;

/// <summary>How function environments are run.</summary>
internal sealed record FunctionsOptions
{
    /// <summary>Environments per function when the function sets no ReservedConcurrentExecutions.</summary>
    public int DefaultConcurrency { get; init; } = 10;

    /// <summary>How long an idle environment is kept warm before it is stopped.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How many invocations an environment runs before it is replaced by a new one. A runtime's memory can grow a
    /// little with every invocation, past the function's MemorySize at last, which ends the invocation then running:
    /// Node's <c>process.env._X_AMZN_TRACE_ID</c>, set for each invocation as Lambda's runtime does, keeps every value
    /// it was given (glibc's setenv(3) never frees one), about 170 bytes an invocation. Lambda "terminates execution
    /// environments every few hours ... even for functions that are invoked continuously" (Lambda developer guide,
    /// lambda-runtime-environment.html); this does it at a known point, between invocations.
    /// </summary>
    public int EnvironmentMaxInvocations { get; init; } = 100_000;

    /// <summary>The node executable (found on PATH by default).</summary>
    public string NodePath { get; init; } = "node";

    /// <summary>
    /// The user functions run as when Inlet runs as root (default <c>nobody</c>); <c>off</c> runs them as Inlet's
    /// own user. Ignored when Inlet is not root.
    /// </summary>
    public string? RunAs { get; init; }

    /// <summary>What a function's temporary credentials may do with Inlet's AWS APIs.</summary>
    public CredentialScope CredentialScope { get; init; } = CredentialScope.DataPlane;
    /// <summary>The Python interpreter for every <c>python3.x</c> runtime (found on PATH by default).</summary>
    public string PythonPath { get; init; } = "python3";

    /// <summary>Lambda waits 1 minute before the first retry of a failed asynchronous invocation and 2 before the second.</summary>
    public TimeSpan AsyncRetryDelay { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>SES's limit on a RequestResponse invocation.</summary>
    public static readonly TimeSpan SesRequestResponseLimit = TimeSpan.FromSeconds(30);

    /// <summary>Largest synchronous payload, request or response (Lambda: 6 MB).</summary>
    public const int MaxSyncPayload = 6 * 1024 * 1024;

    /// <summary>Largest asynchronous payload (Lambda: 1 MB).</summary>
    public const int MaxAsyncPayload = 1024 * 1024;
}

/// <summary>What a function's credentials may do: the data plane a receiving function needs, or everything.</summary>
internal enum CredentialScope
{
    DataPlane,
    All,
}

/// <summary>A function as the configuration file declares it: its definition with the code still at its source path.</summary>
internal sealed record FunctionDeclaration(FunctionDefinition Definition, string? CodeSource);
