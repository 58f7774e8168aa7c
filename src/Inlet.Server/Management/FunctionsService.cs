using System.Text;
using System.Threading.Channels;
using Inlet.Functions;
using Inlet.Storage;

namespace Inlet.Management;

/// <summary>A Lambda refusal: its error code (<c>x-amzn-ErrorType</c>), HTTP status and message.</summary>
internal sealed class FunctionException(string code, int status, string message) : Exception(message)
{
    /// <summary>The function is at its concurrency limit, or turned off (ReservedConcurrentExecutions 0).</summary>
    public const string TooManyRequests = "TooManyRequestsException";

    public string Code { get; } = code;

    public int Status { get; } = status;

    public static FunctionException From(FunctionCodeException e) => new(e.Code, e.Status, e.Message);

    public static FunctionException From(FunctionThrottledException e) => new(TooManyRequests, 429, e.Message);
}

/// <summary>
/// A function's temporary credentials, as a request signed with them is checked: the secret and session token to
/// verify the signature with, who the caller is (the assumed role), and the invocation its AWS calls belong to.
/// </summary>
internal sealed class FunctionCaller(FunctionPrincipal principal, FunctionCredentials credentials)
{
    public string FunctionName => principal.FunctionName;

    public string AssumedRoleArn => principal.AssumedRoleArn;

    public string UserId => principal.UserId;

    public string SecretAccessKey => principal.SecretAccessKey;

    public string SessionToken => principal.SessionToken;

    public bool IsExpired => credentials.IsExpired(principal);

    /// <summary>Notes an AWS call in the trace of the invocation running now, when one is.</summary>
    public void RecordCall(string description) => principal.CurrentInvocation()?.AwsCalls.Enqueue(description);
}

/// <summary>
/// Lambda as the APIs and the console call it: the functions (create, change, delete, find), invoking them
/// synchronously or through the asynchronous queue, re-driving a dead-lettered invocation, their logs and recent
/// invocations, and the temporary credentials functions sign their AWS calls with. The work is the Functions
/// engine's (<see cref="FunctionRegistry"/>, <see cref="FunctionStore"/>, <see cref="FunctionInvoker"/>,
/// <see cref="AsyncInvocationQueue"/>, <see cref="FunctionLogs"/>, <see cref="FunctionCredentials"/>); its refusals
/// come out as <see cref="FunctionException"/>.
/// </summary>
internal sealed class FunctionsService(
    FunctionRegistry registry,
    FunctionStore store,
    FunctionInvoker invoker,
    AsyncInvocationQueue queue,
    FunctionLogs logs,
    FunctionCredentials credentials,
    FunctionsOptions options)
{
    /// <summary>Asynchronous invocations with the status (pending or dead), newest first.</summary>
    public Task<IReadOnlyList<AsyncInvocationRecord>> ListInvocationsAsync(string status, int limit, CancellationToken cancellationToken) =>
        queue.ListAsync(status, limit, cancellationToken);

    /// <summary>Largest synchronous payload, request or response (Lambda: 6 MB).</summary>
    public const int MaxSyncPayload = FunctionsOptions.MaxSyncPayload;

    /// <summary>Largest asynchronous payload (Lambda: 1 MB).</summary>
    public const int MaxAsyncPayload = FunctionsOptions.MaxAsyncPayload;

    /// <summary>How many recent invocations are kept per function.</summary>
    public const int KeptInvocations = InvocationHistory.KeptPerFunction;

    public IReadOnlyList<FunctionDefinition> All => registry.All;

    /// <summary>Splits a function reference into name and qualifier, or explains why it is not one.</summary>
    public static bool TryParseReference(string reference, out string name, out string? qualifier, out string? error) =>
        FunctionRegistry.TryParseReference(reference, out name, out qualifier, out error);

    /// <summary>A function by any of Lambda's reference forms; null when there is no such function here.</summary>
    public FunctionDefinition? Find(string reference, string? qualifier = null) => registry.Resolve(reference, qualifier);

    /// <summary>The error message Lambda gives for an unknown function.</summary>
    public string NotFoundMessage(string reference, string? qualifier = null) => registry.NotFoundMessage(reference, qualifier);

    /// <summary>The definition with a zip package (CreateFunction's <c>ZipFile</c>) unpacked as its code.</summary>
    /// <remarks>The zip is kept in the state store too, so that every node can run the function.</remarks>
    public Task<FunctionDefinition> InstallZipAsync(FunctionDefinition function, byte[] zip, CancellationToken cancellationToken) =>
        Refusals.TranslateAsync<FunctionCodeException, FunctionDefinition>(() => store.InstallSharedZipAsync(function, zip, cancellationToken), FunctionException.From);

    /// <summary>Keeps a function made or changed through the API, and puts it in force.</summary>
    public async Task SaveAsync(FunctionDefinition function, CancellationToken cancellationToken)
    {
        await store.SaveAsync(function, cancellationToken);
        registry.Put(function);
    }

    public async Task DeleteAsync(FunctionDefinition function, CancellationToken cancellationToken)
    {
        // The store first, as when saving: a node reading the store in between must not put the function back.
        await store.DeleteAsync(function.FunctionName, cancellationToken);
        registry.Remove(function.FunctionName, out _);
    }

    /// <summary>A RequestResponse invocation; <paramref name="source"/> is what the invocation history notes it came from.</summary>
    public async Task<InvokeResult> InvokeAsync(FunctionDefinition function, byte[] payload, string source, string? clientContext, string? invokedArn, CancellationToken cancellationToken)
    {
        var result = await Refusals.TranslateAsync<FunctionThrottledException, InvocationResult>(
            () => invoker.InvokeAsync(function, payload, new InvokeOptions { ClientContext = clientContext, InvokedArn = invokedArn, Source = source }, cancellationToken),
            FunctionException.From);
        return new InvokeResult(result.RequestId, result.Payload, result.FunctionError, result.LogTail);
    }

    /// <summary>An Event invocation: queued durably, run and retried as Lambda does.</summary>
    public Task EnqueueAsync(FunctionDefinition function, byte[] payload, string source, CancellationToken cancellationToken) =>
        queue.EnqueueAsync(function, payload, source, cancellationToken);

    /// <summary>Queues a dead-lettered invocation again; false when there is no such one.</summary>
    public Task<bool> RedriveAsync(string id, CancellationToken cancellationToken) => queue.RedriveAsync(id, cancellationToken);

    /// <summary>The functions that have a log group: every function here, and those whose log outlived them.</summary>
    public IEnumerable<string> LoggedFunctions() => registry.All.Select(f => f.FunctionName).Concat(logs.Functions).Distinct(StringComparer.Ordinal);

    /// <summary>Whether a function (or the log it left behind) is there to read logs of.</summary>
    public bool HasLog(string function) => registry.Resolve(function) is not null || logs.Exists(function);

    public IReadOnlyList<LogLine> LogTail(string function, int count) => logs.Tail(function, count);

    /// <summary>The lines of a function's log as they are written.</summary>
    public ChannelReader<LogLine> FollowLog(string function, CancellationToken cancellationToken) => logs.Follow(function, cancellationToken);

    public IReadOnlyList<LogStreamInfo> LogStreams(string function) => logs.Streams(function);

    public long LogStoredBytes(string function) => logs.StoredBytes(function);

    public LogPage ReadLog(string function, LogQuery query) => logs.Read(function, query);

    /// <summary>A CloudWatch Logs filter pattern as a test of a line; null for none, or with the reason it is not one.</summary>
    public static Func<string, bool>? ParseFilterPattern(string? text, out string? error) =>
        LogFilterPattern.Parse(text, out error) is { } pattern ? pattern.IsMatch : null;

    /// <summary>The newest invocations of a function, newest first.</summary>
    public IReadOnlyList<InvocationView> Invocations(string function, int limit) =>
        [.. invoker.History.Of(function, limit).Select(r => View(r, withLines: false))];

    /// <summary>The invocations one source made (<c>ses:&lt;message id&gt;</c>), each with its log lines.</summary>
    public IReadOnlyList<InvocationView> InvocationsFrom(string source) =>
        [.. invoker.History.ForSource(source).Select(r => View(r, withLines: true))];

    /// <summary>The newest invocation of a function that came from <paramref name="source"/>, with its log lines.</summary>
    public InvocationView NewestInvocation(string function, string source) =>
        View(invoker.History.Of(function, InvocationHistory.KeptPerFunction).First(r => r.Source == source), withLines: true);

    /// <summary>Calls <paramref name="finished"/> with every invocation that finishes (without its log lines) until disposed.</summary>
    public IDisposable OnInvocation(Action<InvocationView> finished)
    {
        void Recorded(InvocationRecord r) => finished(View(r, withLines: false));
        invoker.History.Recorded += Recorded;
        return new Unsubscribe(() => invoker.History.Recorded -= Recorded);
    }

    /// <summary>The function whose temporary credentials have this access key id; null when none has.</summary>
    public FunctionCaller? FindCaller(string accessKeyId) => credentials.Find(accessKeyId) is { } principal ? new FunctionCaller(principal, credentials) : null;

    /// <summary>Whether functions' credentials may call every API, not only the data plane (FunctionSettings.CredentialScope).</summary>
    public bool CallersMayUseEverything => options.CredentialScope == CredentialScope.All;

    private InvocationView View(InvocationRecord r, bool withLines) => new(
        r.FunctionName,
        r.RequestId,
        r.StartedAt,
        r.DurationMs,
        r.InitDurationMs,
        r.Source,
        r.Event,
        r.Result,
        r.ErrorType is null ? Disposition.Read(Encoding.UTF8.GetBytes(r.Result)) : null,
        r.ErrorType,
        r.ErrorMessage,
        r.AwsCalls,
        withLines ? logs.Tail(r.FunctionName, 5000).Where(l => l.RequestId == r.RequestId).Select(LogView.From).ToList() : null);

    private sealed class Unsubscribe(Action unsubscribe) : IDisposable
    {
        public void Dispose() => unsubscribe();
    }
}
