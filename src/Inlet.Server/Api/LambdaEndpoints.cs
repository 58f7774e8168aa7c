using System.Text;
using System.Text.Json;
using Inlet.Management;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Inlet.Api;

internal sealed record FunctionSummary(string FunctionName, string FunctionArn, string Runtime, string Handler, int Timeout, int MemorySize, string? CodePath, string? Url);

internal sealed record FunctionListResponse(IReadOnlyList<FunctionSummary> Functions);

internal sealed record AsyncInvocationView(string Id, string FunctionName, DateTimeOffset CreatedAt, int Attempts, DateTimeOffset NextAttemptAt, string Status, string? LastError, string? Source, string Payload);

internal sealed record AsyncInvocationListResponse(IReadOnlyList<AsyncInvocationView> Invocations);

/// <summary>
/// Lambda's Invoke API (REST-JSON, 2015-03-31) — so <c>aws lambda invoke --endpoint-url …</c> works — and Inlet's
/// own views of functions, their logs and the asynchronous queue.
/// </summary>
internal static class LambdaEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/2015-03-31/functions/{name}/invocations", InvokeAsync);
        var api = app.MapGroup("/api");
        api.MapGet("/functions", (FunctionsService functions) => Results.Json(
            new FunctionListResponse(functions.All.Select(f => new FunctionSummary(f.FunctionName, f.FunctionArn, f.Runtime, f.Handler, f.Timeout, f.MemorySize, f.CodePath, f.Url)).ToList()),
            ApiJsonContext.Default.FunctionListResponse));
        api.MapGet("/functions/{name}/logs", LogsAsync);
        api.MapGet("/invocations", ListInvocationsAsync);
        api.MapPost("/invocations/{id}/redrive", RedriveAsync);
    }

    private static async Task<IResult> InvokeAsync(HttpRequest request, HttpResponse response, string name, string? qualifier, FunctionsService functions, CancellationToken cancellationToken)
    {
        if (!FunctionsService.TryParseReference(name, out _, out _, out var nameError))
        {
            return Error(StatusCodes.Status400BadRequest, "ValidationException", nameError!);
        }

        var function = functions.Find(name, qualifier);
        if (function is null)
        {
            return Error(StatusCodes.Status404NotFound, "ResourceNotFoundException", functions.NotFoundMessage(name, qualifier));
        }

        var type = request.Headers["X-Amz-Invocation-Type"].FirstOrDefault() ?? "RequestResponse";
        if (type is not ("RequestResponse" or "Event" or "DryRun"))
        {
            return Error(StatusCodes.Status400BadRequest, "InvalidParameterValueException", $"1 validation error detected: Value '{type}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]");
        }

        var limit = type == "Event" ? FunctionsService.MaxAsyncPayload : FunctionsService.MaxSyncPayload;
        using var body = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            if (body.Length + read > limit)
            {
                return Error(StatusCodes.Status413PayloadTooLarge, "RequestTooLargeException", $"Request must be smaller than {limit} bytes for the {type} invocation type");
            }

            body.Write(buffer, 0, read);
        }

        // Lambda passes an empty payload on as {}.
        var payload = body.Length == 0 ? "{}"u8.ToArray() : body.ToArray();
        try
        {
            using var _ = JsonDocument.Parse(payload);
        }
        catch (JsonException)
        {
            return Error(StatusCodes.Status400BadRequest, "InvalidRequestContentException", "Could not parse request body into json: Could not parse payload into json");
        }

        if (type == "DryRun")
        {
            return Results.StatusCode(StatusCodes.Status204NoContent);
        }

        if (type == "Event")
        {
            await functions.EnqueueAsync(function, payload, "invoke", cancellationToken);
            response.Headers["X-Amz-Executed-Version"] = "$LATEST";
            return Results.StatusCode(StatusCodes.Status202Accepted);
        }

        InvokeResult result;
        try
        {
            var invokedArn = qualifier is null ? function.FunctionArn : $"{function.FunctionArn}:{qualifier}";
            result = await functions.InvokeAsync(function, payload, "invoke", request.Headers["X-Amz-Client-Context"].FirstOrDefault(), invokedArn, cancellationToken);
        }
        catch (FunctionException e) when (e.Code == FunctionException.TooManyRequests)
        {
            response.Headers["x-amzn-ErrorType"] = "TooManyRequestsException";
            return Results.Json(new LambdaThrottleError("User", e.Message, "ReservedFunctionConcurrentInvocationLimitExceeded"), ApiJsonContext.Default.LambdaThrottleError, statusCode: StatusCodes.Status429TooManyRequests);
        }

        response.Headers["X-Amz-Executed-Version"] = "$LATEST";
        response.Headers["x-amzn-RequestId"] = result.RequestId;
        if (result.FunctionError is not null)
        {
            response.Headers["X-Amz-Function-Error"] = result.FunctionError;
        }

        if (string.Equals(request.Headers["X-Amz-Log-Type"].FirstOrDefault(), "Tail", StringComparison.OrdinalIgnoreCase))
        {
            response.Headers["X-Amz-Log-Result"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(result.LogTail));
        }

        return Results.Bytes(result.Payload, "application/json");
    }

    private static async Task LogsAsync(HttpContext context, string name, int? tail, bool? follow, FunctionsService functions)
    {
        var function = functions.Find(name);
        if (function is null)
        {
            await Error(StatusCodes.Status404NotFound, "ResourceNotFoundException", functions.NotFoundMessage(name)).ExecuteAsync(context);
            return;
        }

        context.Response.ContentType = "text/plain; charset=utf-8";
        foreach (var line in functions.LogTail(function.FunctionName, Math.Clamp(tail ?? 100, 1, 5000)))
        {
            await context.Response.WriteAsync(line.Text + "\n", context.RequestAborted);
        }

        if (follow != true)
        {
            return;
        }

        await context.Response.Body.FlushAsync(context.RequestAborted);
        try
        {
            await foreach (var line in functions.FollowLog(function.FunctionName, context.RequestAborted).ReadAllAsync(context.RequestAborted))
            {
                await context.Response.WriteAsync(line.Text + "\n", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        }
        catch (OperationCanceledException)
        {
            // The follower went away.
        }
    }

    private static async Task<IResult> ListInvocationsAsync(FunctionsService functions, string? status, int? limit, CancellationToken cancellationToken)
    {
        var which = status ?? InvocationStatus.Dead;
        if (which is not (InvocationStatus.Dead or InvocationStatus.Pending))
        {
            return ApiEndpoints.Problem(StatusCodes.Status400BadRequest, "InvalidParameterValue", "status is dead or pending");
        }

        var list = await functions.ListInvocationsAsync(which, Math.Clamp(limit ?? 100, 1, 1000), cancellationToken);
        var views = list.Select(i => new AsyncInvocationView(i.Id, i.FunctionName, i.CreatedAt, i.Attempts, i.NextAttemptAt, i.Status, i.LastError, i.Source, Encoding.UTF8.GetString(i.Payload))).ToList();
        return Results.Json(new AsyncInvocationListResponse(views), ApiJsonContext.Default.AsyncInvocationListResponse);
    }

    private static async Task<IResult> RedriveAsync(FunctionsService functions, string id, CancellationToken cancellationToken) =>
        await functions.RedriveAsync(id, cancellationToken)
            ? Results.StatusCode(StatusCodes.Status202Accepted)
            : ApiEndpoints.Problem(StatusCodes.Status404NotFound, "InvocationNotFound", $"No dead-lettered invocation with id {id}");

    /// <summary>Lambda's REST-JSON error: the code in <c>x-amzn-ErrorType</c>, the message in the body.</summary>
    internal static IResult Error(int status, string code, string message) => new LambdaErrorResult(status, code, message);

    private sealed class LambdaErrorResult(int status, string code, string message) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = status;
            httpContext.Response.Headers["x-amzn-ErrorType"] = code;
            return httpContext.Response.WriteAsJsonAsync(new LambdaError("User", message), ApiJsonContext.Default.LambdaError);
        }
    }
}
