using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Inlet.Management;
using Inlet.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Inlet.Api;

internal sealed record FunctionEnvironmentView([property: JsonPropertyName("Variables")] IReadOnlyDictionary<string, string> Variables);

/// <summary>Lambda's FunctionConfiguration document.</summary>
internal sealed record FunctionConfigurationView(
    string FunctionName,
    string FunctionArn,
    string Runtime,
    string Role,
    string Handler,
    long CodeSize,
    string Description,
    int Timeout,
    int MemorySize,
    string LastModified,
    string CodeSha256,
    string Version,
    FunctionEnvironmentView Environment,
    string State,
    string LastUpdateStatus,
    string PackageType,
    IReadOnlyList<string> Architectures);

internal sealed record FunctionCodeLocation(string RepositoryType, string Location);

internal sealed record ConcurrencyView(int ReservedConcurrentExecutions);

internal sealed record GetFunctionResponse(FunctionConfigurationView Configuration, FunctionCodeLocation Code, ConcurrencyView? Concurrency);

internal sealed record ListFunctionsResponse(IReadOnlyList<FunctionConfigurationView> Functions);

internal sealed record EventInvokeConfigView(string FunctionArn, int MaximumRetryAttempts, int MaximumEventAgeInSeconds, double LastModified);

internal sealed record AddPermissionResponse(string Statement);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.Unspecified, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(FunctionConfigurationView))]
[JsonSerializable(typeof(GetFunctionResponse))]
[JsonSerializable(typeof(ListFunctionsResponse))]
[JsonSerializable(typeof(EventInvokeConfigView))]
[JsonSerializable(typeof(AddPermissionResponse))]
internal sealed partial class LambdaJsonContext : JsonSerializerContext;

/// <summary>
/// Lambda's management API (REST-JSON): CreateFunction from a zip, GetFunction, ListFunctions, DeleteFunction,
/// UpdateFunctionCode, UpdateFunctionConfiguration, the event invoke config, and AddPermission (accepted, as SES's
/// console and infrastructure tools call it). Functions made here are kept across restarts.
/// </summary>
internal static class LambdaManagementEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/2015-03-31/functions", CreateAsync);
        app.MapGet("/2015-03-31/functions", (FunctionsService functions) => Results.Json(new ListFunctionsResponse(functions.All.Select(View).ToList()), LambdaJsonContext.Default.ListFunctionsResponse));
        app.MapGet("/2015-03-31/functions/{name}", (string name, FunctionsService functions) =>
            functions.Find(name) is { } f
                ? Results.Json(new GetFunctionResponse(View(f), new FunctionCodeLocation("S3", $"file://{f.CodePath}"), f.ReservedConcurrentExecutions is { } r ? new ConcurrencyView(r) : null), LambdaJsonContext.Default.GetFunctionResponse)
                : NotFound(functions, name));
        app.MapDelete("/2015-03-31/functions/{name}", DeleteAsync);
        app.MapPut("/2015-03-31/functions/{name}/code", UpdateCodeAsync);
        app.MapPut("/2015-03-31/functions/{name}/configuration", UpdateConfigurationAsync);
        app.MapPut("/2019-09-25/functions/{name}/event-invoke-config", PutEventInvokeConfigAsync);
        app.MapGet("/2019-09-25/functions/{name}/event-invoke-config", (string name, FunctionsService functions) =>
            functions.Find(name) is { } f ? Results.Json(EventConfig(f), LambdaJsonContext.Default.EventInvokeConfigView) : NotFound(functions, name));
        app.MapPost("/2015-03-31/functions/{name}/policy", AddPermissionAsync);
    }

    private static IResult NotFound(FunctionsService functions, string name) =>
        LambdaEndpoints.Error(StatusCodes.Status404NotFound, "ResourceNotFoundException", functions.NotFoundMessage(name));

    /// <summary>The request body as JSON, or null when it is not JSON (answered with <see cref="NotJson"/>).</summary>
    private static async Task<JsonDocument?> ReadJsonAsync(HttpRequest request, CancellationToken ct)
    {
        try
        {
            return await JsonDocument.ParseAsync(request.Body, cancellationToken: ct);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static IResult NotJson() =>
        LambdaEndpoints.Error(StatusCodes.Status400BadRequest, "InvalidRequestContentException", "Could not parse request body into json: the body is not a JSON document");

    private static IResult Invalid(string message) => LambdaEndpoints.Error(StatusCodes.Status400BadRequest, "InvalidParameterValueException", message);

    private static async Task<IResult> CreateAsync(HttpRequest request, FunctionsService functions, AwsAccount options, CancellationToken ct)
    {
        using var body = await ReadJsonAsync(request, ct);
        if (body is null)
        {
            return NotJson();
        }

        var json = body.RootElement;
        var name = Text(json, "FunctionName");
        string? error = null;
        if (name is null || !FunctionsService.TryParseReference(name, out var plain, out _, out error) || plain != name)
        {
            return LambdaEndpoints.Error(StatusCodes.Status400BadRequest, "ValidationException", error ?? $"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern");
        }

        // Role is required (botocore's CreateFunctionRequest), and checked before anything else, as Lambda does.
        if (RoleProblem(Text(json, "Role"), required: true) is { } badRole)
        {
            return badRole;
        }

        if (functions.Find(name) is not null)
        {
            return LambdaEndpoints.Error(StatusCodes.Status409Conflict, "ResourceConflictException", $"Function already exist: {name}");
        }

        var runtime = Text(json, "Runtime") ?? string.Empty;
        if (!FunctionDefinition.SupportedRuntimes.Contains(runtime) || runtime == "http")
        {
            return Invalid($"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{string.Join(", ", FunctionDefinition.SupportedRuntimes.Where(r => r != "http"))}]");
        }

        if (!json.TryGetProperty("Code", out var code) || Text(code, "ZipFile") is not { } zip)
        {
            return Invalid("Code.ZipFile is required (Inlet takes function code as a zip; S3 locations are not supported)");
        }

        var function = new FunctionDefinition
        {
            FunctionName = name,
            FunctionArn = FunctionDefinition.ArnFor(options.Region, options.AccountId, name),
            Runtime = runtime,
            Handler = Text(json, "Handler") ?? "index.handler",
            Role = Text(json, "Role"),
            LastModified = DateTimeOffset.UtcNow,
        };
        if (Configure(function, json, out var configured) is { } problem)
        {
            return problem;
        }

        try
        {
            configured = await functions.InstallZipAsync(configured, Convert.FromBase64String(zip), ct);
        }
        catch (FunctionException e)
        {
            return LambdaEndpoints.Error(e.Status, e.Code, e.Message);
        }
        catch (Exception e) when (e is FormatException or InvalidDataException)
        {
            return LambdaEndpoints.Error(StatusCodes.Status400BadRequest, "InvalidParameterValueException", $"Could not unzip uploaded file. Please check your file, then try to upload again. ({e.Message})");
        }

        await functions.SaveAsync(configured, ct);
        return Results.Json(View(configured), LambdaJsonContext.Default.FunctionConfigurationView, statusCode: StatusCodes.Status201Created);
    }

    private static IResult? RoleProblem(string? role, bool required) =>
        role is null && !required || role is not null && FunctionDefinition.IsValidRole(role)
            ? null
            : LambdaEndpoints.Error(StatusCodes.Status400BadRequest, "ValidationException", role is null
                ? "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null"
                : $"1 validation error detected: Value '{role}' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: {FunctionDefinition.RolePattern}");

    /// <summary>The settable fields of CreateFunction and UpdateFunctionConfiguration, checked as Lambda checks them.</summary>
    private static IResult? Configure(FunctionDefinition function, JsonElement json, out FunctionDefinition configured)
    {
        configured = function;
        var role = Text(json, "Role");
        if (RoleProblem(role, required: false) is { } badRole)
        {
            return badRole;
        }

        var timeout = Int(json, "Timeout") ?? function.Timeout;
        if (timeout is < 1 or > FunctionDefinition.MaxTimeout)
        {
            return Invalid($"1 validation error detected: Value '{timeout}' at 'timeout' failed to satisfy constraint: Member must have value between 1 and 900");
        }

        var memory = Int(json, "MemorySize") ?? function.MemorySize;
        if (memory is < 128 or > 10240)
        {
            return Invalid($"1 validation error detected: Value '{memory}' at 'memorySize' failed to satisfy constraint: Member must have value between 128 and 10240");
        }

        var variables = function.Environment;
        if (json.TryGetProperty("Environment", out var environment) && environment.TryGetProperty("Variables", out var vars))
        {
            variables = vars.EnumerateObject().ToImmutableSortedDictionary(p => p.Name, p => p.Value.GetString() ?? string.Empty, StringComparer.Ordinal);
        }

        configured = function with
        {
            Timeout = timeout,
            MemorySize = memory,
            Handler = Text(json, "Handler") ?? function.Handler,
            Description = Text(json, "Description") ?? function.Description,
            Runtime = Text(json, "Runtime") ?? function.Runtime,
            Environment = variables,
            Role = role ?? function.Role,
            LastModified = DateTimeOffset.UtcNow,
        };
        return null;
    }

    private static async Task<IResult> DeleteAsync(string name, FunctionsService functions, CancellationToken ct)
    {
        var function = functions.Find(name);
        if (function is null)
        {
            return NotFound(functions, name);
        }

        await functions.DeleteAsync(function, ct);
        return Results.StatusCode(StatusCodes.Status204NoContent);
    }

    private static async Task<IResult> UpdateCodeAsync(string name, HttpRequest request, FunctionsService functions, CancellationToken ct)
    {
        var function = functions.Find(name);
        if (function is null)
        {
            return NotFound(functions, name);
        }

        using var body = await ReadJsonAsync(request, ct);
        if (body is null)
        {
            return NotJson();
        }

        if (Text(body.RootElement, "ZipFile") is not { } zip)
        {
            return Invalid("ZipFile is required");
        }

        FunctionDefinition updated;
        try
        {
            updated = await functions.InstallZipAsync(function with { LastModified = DateTimeOffset.UtcNow }, Convert.FromBase64String(zip), ct);
        }
        catch (FunctionException e)
        {
            return LambdaEndpoints.Error(e.Status, e.Code, e.Message);
        }
        catch (Exception e) when (e is FormatException or InvalidDataException)
        {
            return Invalid($"Could not unzip uploaded file. Please check your file, then try to upload again. ({e.Message})");
        }

        await functions.SaveAsync(updated, ct);
        return Results.Json(View(updated), LambdaJsonContext.Default.FunctionConfigurationView);
    }

    private static async Task<IResult> UpdateConfigurationAsync(string name, HttpRequest request, FunctionsService functions, CancellationToken ct)
    {
        var function = functions.Find(name);
        if (function is null)
        {
            return NotFound(functions, name);
        }

        using var body = await ReadJsonAsync(request, ct);
        if (body is null)
        {
            return NotJson();
        }

        if (Text(body.RootElement, "Runtime") is { } runtime && !FunctionDefinition.SupportedRuntimes.Contains(runtime))
        {
            return Invalid($"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set");
        }

        if (Configure(function, body.RootElement, out var updated) is { } problem)
        {
            return problem;
        }

        await functions.SaveAsync(updated, ct);
        return Results.Json(View(updated), LambdaJsonContext.Default.FunctionConfigurationView);
    }

    private static async Task<IResult> PutEventInvokeConfigAsync(string name, HttpRequest request, FunctionsService functions, CancellationToken ct)
    {
        var function = functions.Find(name);
        if (function is null)
        {
            return NotFound(functions, name);
        }

        using var body = await ReadJsonAsync(request, ct);
        if (body is null)
        {
            return NotJson();
        }

        var retries = Int(body.RootElement, "MaximumRetryAttempts") ?? 2;
        var age = Int(body.RootElement, "MaximumEventAgeInSeconds") ?? 21600;
        if (retries is < 0 or > 2)
        {
            return Invalid($"1 validation error detected: Value '{retries}' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2");
        }

        if (age is < 60 or > 21600)
        {
            return Invalid($"1 validation error detected: Value '{age}' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value between 60 and 21600");
        }

        var updated = function with { MaximumRetryAttempts = retries, MaximumEventAgeInSeconds = age };
        await functions.SaveAsync(updated, ct);
        return Results.Json(EventConfig(updated), LambdaJsonContext.Default.EventInvokeConfigView);
    }

    private static async Task<IResult> AddPermissionAsync(string name, HttpRequest request, FunctionsService functions, CancellationToken ct)
    {
        var function = functions.Find(name);
        if (function is null)
        {
            return NotFound(functions, name);
        }

        using var body = await ReadJsonAsync(request, ct);
        if (body is null)
        {
            return NotJson();
        }

        var statement = new Dictionary<string, object?>
        {
            ["Sid"] = Text(body.RootElement, "StatementId"),
            ["Effect"] = "Allow",
            ["Principal"] = Text(body.RootElement, "Principal"),
            ["Action"] = Text(body.RootElement, "Action"),
            ["Resource"] = function.FunctionArn,
        };
        // Recorded nowhere: Inlet does not authorise callers of functions; the call succeeds so tools that make it work.
        var text = $"{{\"Sid\":\"{statement["Sid"]}\",\"Effect\":\"Allow\",\"Principal\":{{\"Service\":\"{statement["Principal"]}\"}},\"Action\":\"{statement["Action"]}\",\"Resource\":\"{function.FunctionArn}\"}}";
        return Results.Json(new AddPermissionResponse(text), LambdaJsonContext.Default.AddPermissionResponse, statusCode: StatusCodes.Status201Created);
    }

    private static FunctionConfigurationView View(FunctionDefinition f) => new(
        f.FunctionName,
        f.FunctionArn,
        f.Runtime,
        f.Role ?? FunctionDefinition.DefaultRoleFor(f.FunctionArn.Split(':')[4]),
        f.Handler,
        f.CodeSize,
        f.Description,
        f.Timeout,
        f.MemorySize,
        f.LastModified.UtcDateTime.ToString(WireTime.LambdaFormat, CultureInfo.InvariantCulture),
        f.CodeSha256,
        "$LATEST",
        new FunctionEnvironmentView(f.Environment),
        "Active",
        "Successful",
        "Zip",
        ["x86_64"]);

    private static EventInvokeConfigView EventConfig(FunctionDefinition f) =>
        new($"{f.FunctionArn}:$LATEST", f.MaximumRetryAttempts, f.MaximumEventAgeInSeconds, f.LastModified.ToUnixTimeMilliseconds() / 1000.0);

    private static string? Text(JsonElement json, string name) =>
        json.ValueKind == JsonValueKind.Object && json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int? Int(JsonElement json, string name) =>
        json.ValueKind == JsonValueKind.Object && json.TryGetProperty(name, out var v) && v.TryGetInt32(out var n) ? n : null;
}
