using Inlet.Management;
using Inlet.Storage;
using Inlet.Mail;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Inlet.Api;

/// <summary>Inlet's own HTTP API: health, the message records and their traces, replay, dry runs, the outbox.</summary>
internal static class ApiEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        // For a load balancer: 200 while this node can accept mail, 503 with the reason when it cannot.
        app.MapGet("/health", async (NodeHealth health, CancellationToken ct) => await health.CheckAsync(ct) is var report && report.Healthy
            ? Results.Json(new HealthResponse("ok", report.Node), ApiJsonContext.Default.HealthResponse)
            : Results.Json(new HealthResponse("unhealthy", report.Node, report.Problem), ApiJsonContext.Default.HealthResponse, statusCode: StatusCodes.Status503ServiceUnavailable));
        var api = app.MapGroup("/api");
        // q (sender, recipient, subject or id), from, to, subject (substrings) and status narrow the list.
        api.MapGet("/messages", (MessageService messages, int? limit, string? nextToken, string? q, string? from, string? to, string? subject, string? status, CancellationToken ct) =>
            RunAsync(async () => Results.Json(
                await messages.ListAsync(limit, nextToken, new MessageFilter { Text = Blank(q), From = Blank(from), To = Blank(to), Subject = Blank(subject), Status = Blank(status) }, ct),
                ApiJsonContext.Default.MessageListResponse)));
        api.MapGet("/messages/{id}", (MessageService messages, string id, CancellationToken ct) =>
            RunAsync(async () => Results.Json(await messages.GetAsync(id, ct), ApiJsonContext.Default.MessageDetail)));
        api.MapGet("/messages/{id}/raw", (MessageService messages, string id, CancellationToken ct) =>
            RunAsync(async () => Results.Stream(await messages.OpenRawAsync(id, ct), "message/rfc822")));
        api.MapGet("/messages/{id}/event", GetEventAsync);
        api.MapPost("/messages/{id}/replay", (MessageService messages, string id, CancellationToken ct) =>
            RunAsync(async () => Results.Json(await messages.ReplayAsync(id, ct), ApiJsonContext.Default.ReplayResponse, statusCode: StatusCodes.Status202Accepted)));
        api.MapPost("/rules/test", TestRulesAsync);
        api.MapGet("/outbox", (MessageService messages, int? limit, CancellationToken ct) =>
            RunAsync(async () => Results.Json(await messages.ListOutboxAsync(limit, ct), ApiJsonContext.Default.OutboxResponse)));
        api.MapGet("/outbox/{id}/raw", (MessageService messages, string id, CancellationToken ct) =>
            RunAsync(async () => Results.Stream(await messages.OpenOutboxRawAsync(id, ct), "message/rfc822")));
    }

    /// <summary>
    /// The SES Lambda event of a stored message, exactly as <c>Invoke</c> takes it; <c>?function=</c> picks a function.
    /// Which action it is the event of travels in a header, so that the body is the event and nothing else.
    /// </summary>
    private static Task<IResult> GetEventAsync(HttpResponse response, MessageService messages, string id, string? function, CancellationToken cancellationToken) =>
        RunAsync(async () =>
        {
            var stored = await messages.GetEventAsync(id, function, cancellationToken);
            response.Headers[EventSourceHeader] = stored.Source;
            return Results.Json(stored.Event, SesJsonContext.Default.SesEvent);
        });

    public const string EventSourceHeader = "X-Inlet-Event-Source";

    /// <summary>
    /// A dry run: the message in the request body, the envelope in the query (<c>from</c>, <c>to</c> repeated,
    /// <c>tls</c>). Nothing is stored or executed.
    /// </summary>
    private static Task<IResult> TestRulesAsync(HttpRequest request, MessageService messages, CancellationToken cancellationToken) =>
        RunAsync(async () =>
        {
            var to = request.Query["to"].Where(t => !string.IsNullOrEmpty(t)).Select(t => t!).ToList();
            var from = request.Query["from"].FirstOrDefault() ?? string.Empty;
            var tls = string.Equals(request.Query["tls"].FirstOrDefault(), "true", StringComparison.OrdinalIgnoreCase);
            var response = await messages.TestRulesAsync(request.Body, from, to, tls, cancellationToken);
            return Results.Json(response, ApiJsonContext.Default.RuleTestResponse);
        });

    private static async Task<IResult> RunAsync(Func<Task<IResult>> operation)
    {
        try
        {
            return await operation();
        }
        catch (MessageOperationException e)
        {
            var status = e.Refusal switch
            {
                MessageRefusal.InvalidParameter => StatusCodes.Status400BadRequest,
                MessageRefusal.Busy => StatusCodes.Status409Conflict,
                MessageRefusal.TooLarge => StatusCodes.Status413PayloadTooLarge,
                MessageRefusal.TooMany => StatusCodes.Status429TooManyRequests,
                _ => StatusCodes.Status404NotFound,
            };
            return Problem(status, e.Code, e.Message);
        }
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    internal static IResult Problem(int status, string code, string message) =>
        Results.Json(new ErrorResponse(code, message), ApiJsonContext.Default.ErrorResponse, statusCode: status);
}
