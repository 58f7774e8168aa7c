using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Inlet.Storage;
using Microsoft.Extensions.Logging;

namespace Inlet.Functions;

/// <summary>Options of one synchronous invocation.</summary>
internal sealed record InvokeOptions
{
    /// <summary>The base64 client context of the Invoke API, passed on decoded.</summary>
    public string? ClientContext { get; init; }

    /// <summary>How long the caller waits, when shorter than the function's timeout (SES: 30 s).</summary>
    public TimeSpan? CallerTimeout { get; init; }

    /// <summary>The ARN the function was invoked by (with its qualifier).</summary>
    public string? InvokedArn { get; init; }

    /// <summary>Who asks, for the invocation history: <c>ses:&lt;message id&gt;</c>, <c>invoke</c>, <c>async:&lt;id&gt;</c>.</summary>
    public string? Source { get; init; }
}

/// <summary>
/// Runs functions: takes a warm environment of the function or starts one (up to the function's concurrency),
/// hands it the event, and waits for the answer. Writes Lambda's START, END and REPORT lines around each
/// invocation. The <c>http</c> runtime POSTs the event instead.
/// </summary>
internal sealed partial class FunctionInvoker : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Pool> _pools = new(StringComparer.Ordinal);
    private readonly FunctionsOptions _options;
    private readonly FunctionLogs _logs;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly FunctionHost _host;
    private readonly Lazy<string> _runtimeDirectory;
    private readonly HttpClient _http;
    private readonly Timer _reaper;

    /// <summary>Retired environments still being stopped, waited for when the invoker is disposed.</summary>
    private readonly ConcurrentDictionary<Task, byte> _stopping = new();
    private readonly string _httpStreamId = Guid.NewGuid().ToString("N")[..16];

    public FunctionInvoker(FunctionRegistry registry, FunctionsOptions options, FunctionHost host, FunctionLogs logs, ILoggerFactory loggerFactory, HttpClient? http = null)
    {
        _options = options;
        _host = host;
        _logs = logs;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<FunctionInvoker>();
        // The bootstraps (and the SDK the Node runtime provides) must be readable by the user functions run as.
        _runtimeDirectory = new(() => host.Sandbox.Readable(Path.Combine(AppContext.BaseDirectory, "runtimes"), "runtimes-" + RuntimeVersion()));
        _http = http ?? new HttpClient();
        registry.Changed += function => _ = RetireAsync(function.FunctionName);
        _reaper = new Timer(_ => _ = ReapIdleAsync(), null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
    }

    /// <summary>The newest invocations of each function, for the console.</summary>
    public InvocationHistory History { get; } = new();

    public async Task<InvocationResult> InvokeAsync(FunctionDefinition function, byte[] payload, InvokeOptions options, CancellationToken cancellationToken)
    {
        var requestId = Guid.NewGuid().ToString();
        var startedAt = DateTimeOffset.UtcNow;
        var started = Stopwatch.GetTimestamp();
        // START goes into the stream of the environment that takes the invocation, after that environment's init.
        var log = new InvocationLog(_logs, function.FunctionName, requestId);
        InvocationOutcome outcome;
        TimeSpan? initDuration = null;
        var overhead = TimeSpan.Zero;
        var memory = 0;
        var calls = new ConcurrentQueue<string>();
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (options.CallerTimeout is { } callerTimeout && callerTimeout < TimeSpan.FromSeconds(function.Timeout))
        {
            caller.CancelAfter(callerTimeout);
        }

        try
        {
            if (function.IsHttp)
            {
                // No environment: one stream per server run (and day) holds the http function's lines.
                log.Start($"{DateTime.UtcNow:yyyy/MM/dd}/[$LATEST]{_httpStreamId}");
                outcome = await InvokeHttpAsync(function, payload, log, caller.Token);
            }
            else
            {
                (outcome, initDuration, overhead, memory) = await InvokeInEnvironmentAsync(function, payload, log, options, calls, caller.Token);
            }
        }
        catch (OperationCanceledException) when (caller.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            outcome = InvocationOutcome.Error("Inlet.CallerTimeout", $"No answer within {options.CallerTimeout!.Value.TotalSeconds:F0} seconds, the longest SES waits for a RequestResponse invocation");
        }

        var duration = Stopwatch.GetElapsedTime(started);
        var report = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"REPORT RequestId: {requestId}\tDuration: {duration.TotalMilliseconds:F2} ms\tBilled Duration: {Math.Ceiling(duration.TotalMilliseconds):F0} ms\tMemory Size: {function.MemorySize} MB\tMax Memory Used: {memory} MB"));
        if (initDuration is { } init)
        {
            report.Append(CultureInfo.InvariantCulture, $"\tInit Duration: {init.TotalMilliseconds:F2} ms");
        }

        if (outcome.ErrorType == "Sandbox.Timedout")
        {
            report.Append("\tStatus: timeout");
        }

        // END and REPORT in one write of the log file.
        log.Append($"END RequestId: {requestId}", report.ToString());
        var result = new InvocationResult
        {
            RequestId = requestId,
            Payload = outcome.Payload,
            FunctionError = outcome.IsError ? "Unhandled" : null,
            ErrorType = outcome.IsError ? outcome.ErrorType : null,
            ErrorMessage = outcome.IsError ? ReadErrorMessage(outcome.Payload) : null,
            LogTail = _logs.InvocationTail(function.FunctionName, requestId),
            AwsCalls = [.. calls],
            Duration = duration,
            InitDuration = initDuration,
            Overhead = overhead,
        };
        History.Record(new InvocationRecord
        {
            FunctionName = function.FunctionName,
            RequestId = requestId,
            StartedAt = startedAt,
            DurationMs = Math.Round(duration.TotalMilliseconds, 3),
            InitDurationMs = initDuration is { } initial ? Math.Round(initial.TotalMilliseconds, 3) : null,
            Source = options.Source,
            Event = InvocationHistory.Cut(payload),
            Result = InvocationHistory.Cut(outcome.Payload),
            ErrorType = result.ErrorType,
            ErrorMessage = result.ErrorMessage,
            AwsCalls = result.AwsCalls,
        });
        return result;
    }

    private async Task<(InvocationOutcome Outcome, TimeSpan? Init, TimeSpan Overhead, int Memory)> InvokeInEnvironmentAsync(FunctionDefinition function, byte[] payload, InvocationLog log, InvokeOptions options, ConcurrentQueue<string> calls, CancellationToken cancellationToken)
    {
        var requestId = log.RequestId;
        var pool = _pools.GetOrAdd(function.FunctionName, _ => new Pool());
        var concurrency = function.ReservedConcurrentExecutions ?? _options.DefaultConcurrency;
        if (concurrency == 0)
        {
            throw new FunctionThrottledException($"Rate Exceeded: function {function.FunctionName} has a reserved concurrency of 0");
        }

        var deadline = DateTimeOffset.UtcNow.AddSeconds(function.Timeout);
        var slots = pool.Slots(concurrency);
        await slots.WaitAsync(cancellationToken);
        ExecutionEnvironment? environment = null;
        try
        {
            environment = pool.TakeIdle(function);
            if (environment is null)
            {
                environment = new ExecutionEnvironment(function, _options, _host, _logs, _logger);
                await environment.StartAsync(_loggerFactory, _runtimeDirectory.Value, requestId, cancellationToken);
                var initError = await environment.WaitReadyAsync(deadline - DateTimeOffset.UtcNow, cancellationToken);
                if (initError is not null)
                {
                    LogInitFailed(_logger, function.FunctionName, initError.ErrorType);
                    log.Start(environment.LogStreamName);
                    return (initError, environment.InitDuration, TimeSpan.Zero, 0);
                }
            }

            log.Start(environment.LogStreamName);

            TimeSpan? init = null;
            if (!environment.InitReported)
            {
                environment.InitReported = true;
                init = environment.InitDuration;
            }

            var clientContext = options.ClientContext is null ? null : DecodeClientContext(options.ClientContext);
            var invocation = new Invocation(requestId, payload, deadline, options.InvokedArn ?? function.FunctionArn, clientContext) { AwsCalls = calls };
            var handedOver = Stopwatch.GetTimestamp();
            var outcome = await environment.InvokeAsync(invocation, cancellationToken);
            var done = Stopwatch.GetTimestamp();
            var overhead = invocation.DispatchedAt > 0 && invocation.AnsweredAt > 0
                ? Stopwatch.GetElapsedTime(handedOver, invocation.DispatchedAt) + Stopwatch.GetElapsedTime(invocation.AnsweredAt, done)
                : TimeSpan.Zero;
            return (outcome, init, overhead, environment.MaxMemoryUsedMb());
        }
        finally
        {
            if (environment is not null)
            {
                // An environment is retired before its credentials expire, so that the next one gets fresh keys, and
                // after its share of invocations (FunctionsOptions.EnvironmentMaxInvocations).
                if (environment.IsAlive && !pool.IsRetired(environment.Function)
                    && DateTimeOffset.UtcNow - environment.StartedAt < FunctionCredentials.EnvironmentMaxAge
                    && environment.Invocations < _options.EnvironmentMaxInvocations)
                {
                    pool.ReturnIdle(environment);
                }
                else
                {
                    StopInBackground(environment);
                }
            }

            slots.Release();
        }
    }

    private static string? DecodeClientContext(string base64)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(base64));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>The <c>http</c> runtime: the event is POSTed as JSON; a 2xx JSON body is the result, anything else a function error.</summary>
    private async Task<InvocationOutcome> InvokeHttpAsync(FunctionDefinition function, byte[] payload, InvocationLog log, CancellationToken cancellationToken)
    {
        var requestId = log.RequestId;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(function.Timeout));
        using var request = new HttpRequestMessage(HttpMethod.Post, function.Url) { Content = new ByteArrayContent(payload) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add("Lambda-Runtime-Aws-Request-Id", requestId);
        request.Headers.Add("Lambda-Runtime-Invoked-Function-Arn", function.FunctionArn);
        try
        {
            using var response = await _http.SendAsync(request, timeout.Token);
            var body = await response.Content.ReadAsByteArrayAsync(timeout.Token);
            log.Append($"POST {function.Url} answered {(int)response.StatusCode} with {body.Length} bytes");
            if (!response.IsSuccessStatusCode)
            {
                return InvocationOutcome.Error("Function.HttpError", $"POST {function.Url} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            if (body.Length == 0)
            {
                return new InvocationOutcome(false, "null"u8.ToArray());
            }

            try
            {
                using var _ = JsonDocument.Parse(body);
            }
            catch (JsonException)
            {
                return InvocationOutcome.Error("Function.InvalidResponse", $"POST {function.Url} answered with a body that is not JSON");
            }

            return new InvocationOutcome(false, body);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return InvocationOutcome.Error("Sandbox.Timedout", string.Create(CultureInfo.InvariantCulture, $"{DateTimeOffset.UtcNow:yyyy-MM-dd'T'HH:mm:ss.fff'Z'} {requestId} Task timed out after {function.Timeout:F2} seconds"));
        }
        catch (HttpRequestException e)
        {
            return InvocationOutcome.Error("Function.HttpError", $"POST {function.Url} failed: {e.Message}");
        }
    }

    private static string? ReadErrorMessage(byte[] payload)
    {
        try
        {
            using var document = JsonDocument.Parse(payload);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("errorMessage", out var m) ? m.ToString() : Encoding.UTF8.GetString(payload);
        }
        catch (JsonException)
        {
            return Encoding.UTF8.GetString(payload);
        }
    }

    /// <summary>A key for the runtime folder's content: the bootstraps' sizes and times, and the SDK's presence.</summary>
    private static string RuntimeVersion()
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "runtimes");
        var key = new StringBuilder();
        foreach (var file in Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "bootstrap*", SearchOption.AllDirectories).Order(StringComparer.Ordinal) : Enumerable.Empty<string>())
        {
            var info = new FileInfo(file);
            key.Append(CultureInfo.InvariantCulture, $"{file}:{info.Length}:{info.LastWriteTimeUtc.Ticks};");
        }

        key.Append(Directory.Exists(Path.Combine(folder, "nodejs", "node_modules")));
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(key.ToString())))[..16].ToLowerInvariant();
    }

    /// <summary>
    /// Stops a retired environment on another thread: the kill of its process tree (a walk of /proc) and the rest of
    /// the stop took 20-40 ms, which the answer its last caller already has need not wait for.
    /// </summary>
    private void StopInBackground(ExecutionEnvironment environment)
    {
        var stop = Task.Run(() => StopRetiredAsync(environment));
        _stopping.TryAdd(stop, 0);
        // Registered after the add, so it runs after it even when the stop is already over.
        _ = stop.ContinueWith(done => _stopping.TryRemove(done, out _), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    private async Task StopRetiredAsync(ExecutionEnvironment environment)
    {
        try
        {
            await environment.DisposeAsync();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or OperationCanceledException)
        {
            LogStopFailed(_logger, environment.Function.FunctionName, environment.Id, e);
        }
    }

    /// <summary>A changed or deleted function's idle environments are stopped; busy ones are stopped when they finish.</summary>
    private async Task RetireAsync(string name)
    {
        if (_pools.TryGetValue(name, out var pool))
        {
            foreach (var environment in pool.RetireAll())
            {
                await environment.DisposeAsync();
            }
        }
    }

    private async Task ReapIdleAsync()
    {
        foreach (var pool in _pools.Values)
        {
            foreach (var environment in pool.TakeIdleOlderThan(DateTimeOffset.UtcNow - _options.IdleTimeout))
            {
                await environment.DisposeAsync();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _reaper.DisposeAsync();
        await Task.WhenAll(_stopping.Keys);
        foreach (var pool in _pools.Values)
        {
            foreach (var environment in pool.RetireAll())
            {
                await environment.DisposeAsync();
            }
        }
    }

    /// <summary>The platform lines of one invocation, in the stream of the environment that runs it.</summary>
    private sealed class InvocationLog(FunctionLogs logs, string function, string requestId)
    {
        private string? _stream;

        public string RequestId { get; } = requestId;

        public void Start(string stream)
        {
            _stream = stream;
            logs.AppendWithNext(function, stream, RequestId, $"START RequestId: {RequestId} Version: $LATEST");
        }

        /// <summary>Appends lines; nothing is written for an invocation that never reached an environment (a caller that gave up waiting).</summary>
        public void Append(params ReadOnlySpan<string> texts)
        {
            if (_stream is not null)
            {
                logs.Append(function, _stream, RequestId, texts);
            }
        }
    }

    [LoggerMessage(EventId = 403, Level = LogLevel.Warning, Message = "Function {Function}: retired environment {Environment} could not be cleaned up")]
    private static partial void LogStopFailed(ILogger logger, string function, string environment, Exception exception);

    [LoggerMessage(EventId = 401, Level = LogLevel.Warning, Message = "Function {Function}: init failed ({ErrorType})")]
    private static partial void LogInitFailed(ILogger logger, string function, string? errorType);

    /// <summary>The environments of one function: idle ones to reuse, and a limit on how many run at once.</summary>
    private sealed class Pool
    {
        private readonly Stack<ExecutionEnvironment> _idle = new();
        private readonly object _gate = new();
        private SemaphoreSlim? _slots;
        private int _slotCount;
        private DateTimeOffset _retiredBefore = DateTimeOffset.MinValue;

        public SemaphoreSlim Slots(int count)
        {
            lock (_gate)
            {
                if (_slots is null || _slotCount != count)
                {
                    _slots = new SemaphoreSlim(count, int.MaxValue);
                    _slotCount = count;
                }

                return _slots;
            }
        }

        public ExecutionEnvironment? TakeIdle(FunctionDefinition function)
        {
            lock (_gate)
            {
                while (_idle.TryPop(out var environment))
                {
                    if (environment.IsAlive && environment.Function == function)
                    {
                        return environment;
                    }

                    _ = environment.DisposeAsync().AsTask();
                }

                return null;
            }
        }

        public bool IsRetired(FunctionDefinition function) => function.LastModified < _retiredBefore;

        public void ReturnIdle(ExecutionEnvironment environment)
        {
            lock (_gate)
            {
                _idle.Push(environment);
            }
        }

        public List<ExecutionEnvironment> RetireAll()
        {
            lock (_gate)
            {
                _retiredBefore = DateTimeOffset.UtcNow;
                var all = _idle.ToList();
                _idle.Clear();
                return all;
            }
        }

        public List<ExecutionEnvironment> TakeIdleOlderThan(DateTimeOffset cutoff)
        {
            lock (_gate)
            {
                var old = _idle.Where(e => e.LastUsed < cutoff || !e.IsAlive).ToList();
                if (old.Count > 0)
                {
                    var keep = _idle.Where(e => !old.Contains(e)).Reverse().ToList();
                    _idle.Clear();
                    foreach (var e in keep)
                    {
                        _idle.Push(e);
                    }
                }

                return old;
            }
        }
    }
}
