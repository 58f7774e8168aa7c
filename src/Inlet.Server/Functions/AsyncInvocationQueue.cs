using Inlet.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Inlet.Functions;

/// <summary>
/// Lambda's asynchronous invocation queue, made durable: an <c>Event</c> invocation is written to the state store
/// and the caller goes on at once. A function error (a timeout or crash included) is retried as Lambda retries it
/// — up to <c>MaximumRetryAttempts</c> more times, 1 minute then 2 minutes apart — and a throttle is retried with
/// back-off without counting. An invocation that runs out of retries, or outlives <c>MaximumEventAgeInSeconds</c>,
/// is dead-lettered: kept with its reason, listed by the API and CLI, and re-driven on request.
/// </summary>
internal sealed partial class AsyncInvocationQueue(
    IInvocationStore state,
    FunctionRegistry registry,
    FunctionInvoker invoker,
    FunctionsOptions options,
    StateOptions leases,
    TimeProvider time,
    ILogger<AsyncInvocationQueue> logger) : BackgroundService
{
    public const string Pending = InvocationStatus.Pending;
    public const string Dead = InvocationStatus.Dead;
    private const int Parallelism = 8;

    private DueWorkLoop<AsyncInvocationRecord>? _dueLoop;

    private DueWorkLoop<AsyncInvocationRecord> Loop => _dueLoop ??= new DueWorkLoop<AsyncInvocationRecord>(
        "Asynchronous invocations", state.InvocationQueue, i => i.Id, RunAsync, Parallelism, leases.Lease, time, logger);

    public async Task<string> EnqueueAsync(FunctionDefinition function, byte[] payload, string source, CancellationToken cancellationToken)
    {
        if (payload.Length > FunctionsOptions.MaxAsyncPayload)
        {
            throw new ArgumentException($"Request must be smaller than {FunctionsOptions.MaxAsyncPayload} bytes for the Event invocation type (got {payload.Length})");
        }

        var now = time.GetUtcNow();
        var id = Guid.NewGuid().ToString();
        await state.InsertInvocationAsync(new AsyncInvocationRecord { Id = id, FunctionName = function.FunctionName, Payload = payload, CreatedAt = now, NextAttemptAt = now, Source = source }, cancellationToken);
        Loop.Wake();
        return id;
    }

    /// <summary>Puts a dead-lettered invocation back in the queue, as a fresh event.</summary>
    public async Task<bool> RedriveAsync(string id, CancellationToken cancellationToken)
    {
        var record = await state.GetInvocationAsync(id, cancellationToken);
        if (record is null || record.Status != Dead)
        {
            return false;
        }

        var now = time.GetUtcNow();
        // The event's age starts again: it is re-driven on purpose.
        await state.DeleteInvocationAsync(id, cancellationToken);
        await state.InsertInvocationAsync(record with { Status = Pending, Attempts = 0, NextAttemptAt = now, CreatedAt = now, LastError = null }, cancellationToken);
        Loop.Wake();
        return true;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Loop.RunAsync(stoppingToken);

    /// <summary>Invocations with the status (pending or dead), newest first.</summary>
    public Task<IReadOnlyList<AsyncInvocationRecord>> ListAsync(string status, int limit, CancellationToken cancellationToken) =>
        state.ListInvocationsAsync(status, limit, cancellationToken);

    private async Task RunAsync(AsyncInvocationRecord invocation, CancellationToken stoppingToken)
    {
        try
        {
            var now = time.GetUtcNow();
            var function = registry.Resolve(invocation.FunctionName);
            if (function is null)
            {
                await DeadLetterAsync(invocation, $"ResourceNotFoundException: {registry.NotFoundMessage(invocation.FunctionName)}", stoppingToken);
                return;
            }

            if (now - invocation.CreatedAt > TimeSpan.FromSeconds(function.MaximumEventAgeInSeconds))
            {
                await DeadLetterAsync(invocation, $"EventAgeExceeded: the event is older than MaximumEventAgeInSeconds ({function.MaximumEventAgeInSeconds})", stoppingToken);
                return;
            }

            InvocationResult result;
            try
            {
                result = await invoker.InvokeAsync(function, invocation.Payload, new InvokeOptions { Source = invocation.Source }, stoppingToken);
            }
            catch (FunctionThrottledException e)
            {
                // Throttles go back to the queue without using up a retry.
                var delay = TimeSpan.FromSeconds(Math.Min(300, Math.Pow(2, Math.Min(invocation.Attempts, 8))));
                await state.UpdateInvocationAsync(invocation with { NextAttemptAt = now + delay, LastError = $"TooManyRequestsException: {e.Message}" }, stoppingToken);
                return;
            }

            if (result.FunctionError is null)
            {
                await state.DeleteInvocationAsync(invocation.Id, stoppingToken);
                return;
            }

            var error = $"{result.ErrorType}: {result.ErrorMessage} (request {result.RequestId})";
            var attempts = invocation.Attempts + 1;
            if (attempts > function.MaximumRetryAttempts)
            {
                await DeadLetterAsync(invocation with { Attempts = attempts }, $"RetriesExhausted after {attempts} attempt(s): {error}", stoppingToken);
                return;
            }

            // Lambda: one minute before the first retry, two before the second.
            var wait = options.AsyncRetryDelay * attempts;
            LogRetry(logger, function.FunctionName, invocation.Id, attempts, error);
            await state.UpdateInvocationAsync(invocation with { Attempts = attempts, NextAttemptAt = time.GetUtcNow() + wait, LastError = error }, stoppingToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            LogFailed(logger, invocation.Id, e);
        }
    }

    private async Task DeadLetterAsync(AsyncInvocationRecord invocation, string reason, CancellationToken cancellationToken)
    {
        LogDeadLettered(logger, invocation.FunctionName, invocation.Id, reason);
        await state.UpdateInvocationAsync(invocation with { Status = Dead, LastError = reason }, cancellationToken);
    }

    [LoggerMessage(EventId = 410, Level = LogLevel.Warning, Message = "Function {Function}: asynchronous invocation {Id} failed (attempt {Attempt}), retried later: {Error}")]
    private static partial void LogRetry(ILogger logger, string function, string id, int attempt, string error);

    [LoggerMessage(EventId = 411, Level = LogLevel.Error, Message = "Function {Function}: asynchronous invocation {Id} dead-lettered: {Reason}")]
    private static partial void LogDeadLettered(ILogger logger, string function, string id, string reason);

    [LoggerMessage(EventId = 412, Level = LogLevel.Error, Message = "Asynchronous invocation {Id} could not be run")]
    private static partial void LogFailed(ILogger logger, string id, Exception exception);
}
