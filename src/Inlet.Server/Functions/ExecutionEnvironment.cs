using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Inlet.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Inlet.Functions;

/// <summary>
/// One execution environment: a child process running the function's runtime, and the Runtime API endpoint
/// that only this process talks to. It takes one invocation at a time. An invocation past its deadline, or a
/// crash, ends the environment; the pool starts a new one.
/// </summary>
internal sealed partial class ExecutionEnvironment : IAsyncDisposable
{
    private const string ApiPrefix = "/2018-06-01/runtime/";
    private const int MaxResponse = FunctionsOptions.MaxSyncPayload + 100;

    private readonly FunctionsOptions _options;
    private readonly FunctionHost _host;
    private readonly FunctionLogs _logs;
    private readonly ILogger _logger;
    private EnvironmentMemory? _memory;
    private readonly Channel<Invocation> _next = Channel.CreateBounded<Invocation>(1);
    private readonly TaskCompletionSource<InvocationOutcome?> _init = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly long _started = Stopwatch.GetTimestamp();
    private RuntimeApiServer? _api;
    private Process? _process;
    private RuntimeOutput? _output;
    private volatile Invocation? _current;
    private volatile string? _lastRequestId;
    private volatile bool _dead;
    private volatile bool _overMemory;
    private FunctionPrincipal? _principal;
    private string? _tempDirectory;

    public ExecutionEnvironment(FunctionDefinition function, FunctionsOptions options, FunctionHost host, FunctionLogs logs, ILogger logger)
    {
        Function = function;
        _options = options;
        _host = host;
        _logs = logs;
        _logger = logger;
        Id = Guid.NewGuid().ToString("N")[..16];
        LogStreamName = $"{DateTime.UtcNow:yyyy/MM/dd}/[$LATEST]{Id}";
    }

    public FunctionDefinition Function { get; }

    public string Id { get; }

    public bool IsAlive => !_dead;

    public DateTimeOffset LastUsed { get; private set; } = DateTimeOffset.UtcNow;

    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>How many invocations were handed to this environment.</summary>
    public int Invocations { get; private set; }

    /// <summary>How long the runtime took from start to its first <c>/next</c>; reported once, with the first invocation.</summary>
    public TimeSpan? InitDuration { get; private set; }

    public bool InitReported { get; set; }

    /// <summary>Lambda's name for the environment's log stream: the day it started, the version, and its id.</summary>
    public string LogStreamName { get; }

    /// <param name="initRequestId">The invocation the environment is started for: its log tail includes the init's output.</param>
    public async Task StartAsync(ILoggerFactory loggerFactory, string runtimeDirectory, string initRequestId, CancellationToken cancellationToken)
    {
        _lastRequestId = initRequestId;
        _api = await RuntimeApiServer.StartAsync(HandleAsync, loggerFactory, cancellationToken);
        var sandbox = _host.Sandbox;
        // The staged copy is named by the code's hash; a definition made in code without one (no hash) still gets a name.
        var hash = Function.CodeSha256.Length > 0 ? Convert.ToHexString(Convert.FromBase64String(Function.CodeSha256)) : "unhashed";
        var codePath = Function.CodePath is null ? null : sandbox.Readable(Function.CodePath, $"code-{Function.FunctionName}-{hash[..Math.Min(16, hash.Length)]}");
        var (fileName, arguments) = Function.IsNode
            ? (sandbox.ResolveProgram(_options.NodePath), new[] { Path.Combine(runtimeDirectory, "nodejs", "bootstrap.js") })
            : Function.IsPython
                ? (sandbox.ResolveProgram(_options.PythonPath), new[] { "-u", Path.Combine(runtimeDirectory, "python", "bootstrap.py") })
                : (Path.Combine(codePath!, "bootstrap"), Array.Empty<string>());
        _output = new RuntimeOutput(line => _logs.Append(Function.FunctionName, LogStreamName, _current?.RequestId ?? _lastRequestId, line));
        if (Function.IsProvided && !File.Exists(fileName))
        {
            _init.TrySetResult(InvocationOutcome.Error("Runtime.InvalidEntrypoint", $"Couldn't find valid bootstrap(s): [{fileName}]"));
            _dead = true;
            return;
        }

        _tempDirectory = sandbox.CreateTempDirectory(Id);
        _principal = _host.Credentials.Issue(Function, _host.Account, () => _current);
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = codePath,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // The function sees what a Lambda runtime sees, and nothing of Inlet's own environment.
        info.Environment.Clear();
        foreach (var (key, value) in BuildEnvironment(runtimeDirectory, codePath))
        {
            info.Environment[key] = value;
        }

        sandbox.Apply(info);

        try
        {
            _process = new Process { StartInfo = info, EnableRaisingEvents = true };
            _process.Exited += (_, _) => _ = OnExitedAsync();
            _process.Start();
            _memory = OperatingSystem.IsLinux() ? new EnvironmentMemory(_process.Id) : null;
            _process.StandardInput.Close();
            _output.Start(_process.StandardOutput.BaseStream, _process.StandardError.BaseStream);
            _host.MemoryWatch.Watch(this);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            _dead = true;
            _init.TrySetResult(InvocationOutcome.Error("Runtime.InvalidEntrypoint", $"Could not start {fileName}: {e.Message}"));
        }
    }

    private Dictionary<string, string> BuildEnvironment(string runtimeDirectory, string? codePath)
    {
        var registry = Function.FunctionArn.Split(':');
        var region = registry.Length > 3 ? registry[3] : "us-east-1";
        var env = new Dictionary<string, string>(StringComparer.Ordinal);

        // Inlet's endpoint for every SDK that reads AWS_ENDPOINT_URL (JavaScript v3, boto3 >= 1.28, Go and Java v2);
        // the function's own Environment wins over it.
        if (_host.EndpointUrl is { } endpoint)
        {
            env["AWS_ENDPOINT_URL"] = endpoint;
        }

        foreach (var (key, value) in Function.Environment)
        {
            env[key] = value;
        }

        // Reserved variables win over user variables, as in Lambda.
        env["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        env["LANG"] = "en_US.UTF-8";
        env["TZ"] = ":UTC";
        env["_HANDLER"] = Function.Handler;
        env["AWS_LAMBDA_RUNTIME_API"] = $"127.0.0.1:{_api!.EndPoint.Port}";
        env["LAMBDA_TASK_ROOT"] = codePath ?? string.Empty;
        env["LAMBDA_RUNTIME_DIR"] = Path.Combine(runtimeDirectory, "nodejs");
        env["AWS_REGION"] = region;
        env["AWS_DEFAULT_REGION"] = region;
        env["AWS_LAMBDA_FUNCTION_NAME"] = Function.FunctionName;
        env["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST";
        env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = Function.MemorySize.ToString(CultureInfo.InvariantCulture);
        env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "on-demand";
        env["AWS_LAMBDA_LOG_GROUP_NAME"] = $"/aws/lambda/{Function.FunctionName}";
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = LogStreamName;

        // The role's temporary credentials, minted for this environment; never Inlet's own keys.
        env["AWS_ACCESS_KEY_ID"] = _principal!.AccessKeyId;
        env["AWS_SECRET_ACCESS_KEY"] = _principal.SecretAccessKey;
        env["AWS_SESSION_TOKEN"] = _principal.SessionToken;
        env["TMPDIR"] = _tempDirectory!;
        env["HOME"] = _tempDirectory!;
        if (Function.IsNode)
        {
            env["AWS_EXECUTION_ENV"] = $"AWS_Lambda_{Function.Runtime}";
            // The function's own modules first, then the SDK the runtime provides, as Lambda's NODE_PATH orders them.
            var sdk = _host.NodeSdkPath is { } provided ? _host.Sandbox.Readable(provided, "node-sdk-" + SdkVersion(provided)) : null;
            env["NODE_PATH"] = string.Join(Path.PathSeparator, new[] { codePath, Path.Combine(codePath ?? ".", "node_modules"), sdk }.Where(p => p is not null));
        }
        else if (Function.IsPython)
        {
            // The task root comes first on the module path; the machine's own packages (boto3, if installed)
            // stay importable through the interpreter's site-packages.
            env["AWS_EXECUTION_ENV"] = $"AWS_Lambda_{Function.Runtime}";
            env["LAMBDA_RUNTIME_DIR"] = Path.Combine(runtimeDirectory, "python");
            env["PYTHONPATH"] = Function.CodePath ?? string.Empty;
        }

        return env;
    }

    /// <summary>The SDK folder's lock file names its exact content; its hash keys a staged copy.</summary>
    private static string SdkVersion(string nodeModules)
    {
        var lockFile = Path.Combine(nodeModules, ".package-lock.json");
        var key = File.Exists(lockFile) ? File.ReadAllBytes(lockFile) : Encoding.UTF8.GetBytes(nodeModules);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(key))[..16].ToLowerInvariant();
    }

    /// <summary>Waits for the runtime to ask for its first event; returns the init error when it failed instead.</summary>
    public async Task<InvocationOutcome?> WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            return await _init.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            await KillAsync();
            return InvocationOutcome.Error("Sandbox.Timedout", $"Init phase did not complete within {timeout.TotalSeconds:F2} seconds");
        }
    }

    /// <summary>Runs one invocation to its answer, its deadline, or the end of the process.</summary>
    public async Task<InvocationOutcome> InvokeAsync(Invocation invocation, CancellationToken cancellationToken)
    {
        _current = invocation;
        _lastRequestId = invocation.RequestId;
        LastUsed = DateTimeOffset.UtcNow;
        Invocations++;
        if (_dead || !_next.Writer.TryWrite(invocation))
        {
            _current = null;
            return InvocationOutcome.Error("Runtime.ExitError", $"RequestId: {invocation.RequestId} Error: Runtime exited");
        }

        var remaining = invocation.Deadline - DateTimeOffset.UtcNow;
        try
        {
            return await invocation.Completion.Task.WaitAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, cancellationToken);
        }
        catch (TimeoutException)
        {
            // Lambda stops a function at its deadline and replaces its environment.
            _ = MaxMemoryUsedMb(); // a last look at the peak, which the kill ends
            await KillAsync();
            await _output!.WaitClosedAsync(TimeSpan.FromSeconds(1));
            var seconds = (double)Function.Timeout;
            var message = string.Create(CultureInfo.InvariantCulture, $"{DateTimeOffset.UtcNow:yyyy-MM-dd'T'HH:mm:ss.fff'Z'} {invocation.RequestId} Task timed out after {seconds:F2} seconds");
            _logs.Append(Function.FunctionName, LogStreamName, invocation.RequestId, message);
            return InvocationOutcome.Error("Sandbox.Timedout", message);
        }
        finally
        {
            _current = null;
            LastUsed = DateTimeOffset.UtcNow;
        }
    }

    private async Task OnExitedAsync()
    {
        _dead = true;
        // What the process wrote before it went is logged before its invocation is failed and framed with END.
        await _output!.WaitClosedAsync(TimeSpan.FromSeconds(1));
        var code = 0;
        try
        {
            code = _process?.ExitCode ?? 0;
        }
        catch (InvalidOperationException)
        {
            // Killed before it was fully started.
        }

        var current = _current;
        var requestId = current?.RequestId ?? _lastRequestId;
        // Over MemorySize the environment is killed, as Lambda's kernel does: "signal: killed".
        var message = _overMemory
            ? $"RequestId: {requestId} Error: Runtime exited with error: signal: killed"
            : string.Create(CultureInfo.InvariantCulture, $"RequestId: {requestId} Error: Runtime exited with error: exit status {code}");
        _init.TrySetResult(InvocationOutcome.Error("Runtime.ExitError", message));
        current?.Answer(InvocationOutcome.Error("Runtime.ExitError", message));
        _next.Writer.TryComplete();
    }

    /// <summary>The Runtime API: /next, /{id}/response, /{id}/error, /init/error.</summary>
    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? string.Empty;
        if (!path.StartsWith(ApiPrefix, StringComparison.Ordinal))
        {
            await WriteJsonAsync(context, StatusCodes.Status404NotFound, """{"errorMessage":"Unknown path","errorType":"NotFound"}""");
            return;
        }

        var rest = path[ApiPrefix.Length..];
        var method = context.Request.Method;
        if (rest == "invocation/next" && HttpMethods.IsGet(method))
        {
            await NextAsync(context);
        }
        else if (rest == "init/error" && HttpMethods.IsPost(method))
        {
            var body = await ReadBodyAsync(context, MaxResponse);
            var type = context.Request.Headers["Lambda-Runtime-Function-Error-Type"].FirstOrDefault() ?? "Runtime.Unknown";
            _output!.Drain();
            _init.TrySetResult(ErrorOutcome(body, type));
            await WriteJsonAsync(context, StatusCodes.Status202Accepted, """{"status":"OK"}""");
        }
        else if (rest.StartsWith("invocation/", StringComparison.Ordinal) && HttpMethods.IsPost(method))
        {
            var parts = rest.Split('/');
            if (parts.Length == 3 && parts[2] is "response" or "error")
            {
                await AnswerAsync(context, Uri.UnescapeDataString(parts[1]), parts[2] == "error");
                return;
            }

            await WriteJsonAsync(context, StatusCodes.Status404NotFound, """{"errorMessage":"Unknown path","errorType":"NotFound"}""");
        }
        else
        {
            await WriteJsonAsync(context, StatusCodes.Status405MethodNotAllowed, """{"errorMessage":"Method not allowed","errorType":"MethodNotAllowed"}""");
        }
    }

    private async Task NextAsync(HttpContext context)
    {
        if (!_init.Task.IsCompleted)
        {
            InitDuration = Stopwatch.GetElapsedTime(_started);
            // The init's output goes before the first invocation's START line.
            _output!.Drain();
            _init.TrySetResult(null);
        }

        Invocation invocation;
        try
        {
            invocation = await _next.Reader.ReadAsync(context.RequestAborted);
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            return;
        }

        var headers = context.Response.Headers;
        headers["Lambda-Runtime-Aws-Request-Id"] = invocation.RequestId;
        headers["Lambda-Runtime-Deadline-Ms"] = invocation.Deadline.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        headers["Lambda-Runtime-Invoked-Function-Arn"] = invocation.InvokedFunctionArn;
        headers["Lambda-Runtime-Trace-Id"] = $"Root=1-{DateTimeOffset.UtcNow.ToUnixTimeSeconds():x8}-{invocation.RequestId.Replace("-", string.Empty, StringComparison.Ordinal)[..24]};Parent={invocation.RequestId[..8]}00000000;Sampled=0";
        if (invocation.ClientContext is not null)
        {
            headers["Lambda-Runtime-Client-Context"] = invocation.ClientContext;
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = invocation.Payload.Length;
        await context.Response.Body.WriteAsync(invocation.Payload, context.RequestAborted);
        await context.Response.CompleteAsync();
        invocation.DispatchedAt = Stopwatch.GetTimestamp();
    }

    private async Task AnswerAsync(HttpContext context, string requestId, bool isError)
    {
        var current = _current;
        if (current is null || current.RequestId != requestId)
        {
            await WriteJsonAsync(context, StatusCodes.Status400BadRequest, """{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}""");
            return;
        }

        if (current.Completion.Task.IsCompleted)
        {
            await WriteJsonAsync(context, StatusCodes.Status403Forbidden, """{"errorMessage":"The invocation has already been answered","errorType":"InvalidStateTransition"}""");
            return;
        }

        var answeredAt = Stopwatch.GetTimestamp();
        var body = await ReadBodyAsync(context, MaxResponse);
        if (body is null)
        {
            current.Answer(InvocationOutcome.Error("Function.ResponseSizeTooLarge", $"Response payload size exceeded maximum allowed payload size ({MaxResponse} bytes)."));
            await WriteJsonAsync(context, StatusCodes.Status413PayloadTooLarge, $$"""{"errorMessage":"Exceeded maximum allowed payload size ({{MaxResponse}} bytes).","errorType":"RequestEntityTooLarge"}""");
            return;
        }

        var outcome = isError
            ? ErrorOutcome(body, context.Request.Headers["Lambda-Runtime-Function-Error-Type"].FirstOrDefault())
            : new InvocationOutcome(false, body);
        current.AnsweredAt = answeredAt;
        _output!.Drain();
        current.Answer(outcome);
        await WriteJsonAsync(context, StatusCodes.Status202Accepted, """{"status":"OK"}""");
    }

    /// <summary>The runtime's error document when it sent one; otherwise one built from the error-type header.</summary>
    private static InvocationOutcome ErrorOutcome(byte[]? body, string? headerType)
    {
        if (body is { Length: > 0 })
        {
            try
            {
                using var document = JsonDocument.Parse(body);
                var type = document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("errorType", out var t) && t.ValueKind == JsonValueKind.String
                    ? t.GetString()
                    : headerType;
                return new InvocationOutcome(true, body, type ?? "Runtime.Unknown");
            }
            catch (JsonException)
            {
                // Not JSON: fall back to the header, as Lambda does.
            }
        }

        var errorType = headerType ?? "Runtime.Unknown";
        return InvocationOutcome.Error(errorType, body is { Length: > 0 } ? Encoding.UTF8.GetString(body) : errorType);
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpContext context, int limit)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static async Task WriteJsonAsync(HttpContext context, int status, string json)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        // With its length, the answer goes out in one piece rather than chunked.
        var body = Encoding.UTF8.GetBytes(json);
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body);
    }

    /// <summary>Peak resident memory of the process in MB (Lambda's "Max Memory Used").</summary>
    public int MaxMemoryUsedMb() => _memory?.MaxUsedMb() ?? 0;

    /// <summary>
    /// MemorySize is a limit, as in Lambda: the process tree's resident memory is sampled (by the host's
    /// <see cref="MemoryWatch"/>) and an environment over it is killed. The peak is kept for REPORT's Max Memory Used.
    /// </summary>
    public void SampleMemory()
    {
        if (_dead || _process is null || _memory is null)
        {
            return;
        }

        var resident = _memory.Sample();
        if (resident > Function.MemorySize && !_overMemory)
        {
            _overMemory = true;
            LogOverMemory(_logger, Function.FunctionName, Id, resident, Function.MemorySize);
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or AggregateException)
            {
                // On the watch's timer: a failure must not end the node; the deadline still ends the invocation.
                LogKillFailed(_logger, Function.FunctionName, Id, e);
            }
        }
    }

    public async Task KillAsync()
    {
        _dead = true;
        try
        {
            if (_process is { HasExited: false })
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            LogKillFailed(_logger, Function.FunctionName, Id, e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _host.MemoryWatch.Forget(this);
        await KillAsync();
        if (_principal is not null)
        {
            _host.Credentials.Revoke(_principal.AccessKeyId);
        }

        if (_tempDirectory is not null)
        {
            FunctionSandbox.DeleteTempDirectory(_tempDirectory);
        }

        _next.Writer.TryComplete();
        if (_api is not null)
        {
            await _api.DisposeAsync();
        }

        _output?.Stop();
        _process?.Dispose();
        _memory?.Dispose();
    }

    [LoggerMessage(EventId = 402, Level = LogLevel.Warning, Message = "Function {Function}: environment {Environment} used {Resident} MB, over its MemorySize of {Limit} MB, and was stopped")]
    private static partial void LogOverMemory(ILogger logger, string function, string environment, int resident, int limit);

    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "Function {Function}: environment {Environment} could not be stopped")]
    private static partial void LogKillFailed(ILogger logger, string function, string environment, Exception exception);
}
