using Inlet.Processing;
using Inlet.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Inlet.Api;

/// <summary>Inlet's own HTTP API: health and the message records.</summary>
internal static class ApiEndpoints
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 1000;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/health", () => Results.Json(new HealthResponse("ok"), ApiJsonContext.Default.HealthResponse));
        var api = app.MapGroup("/api");
        api.MapGet("/messages", ListMessagesAsync);
        api.MapGet("/messages/{id}", GetMessageAsync);
        api.MapGet("/messages/{id}/raw", GetRawAsync);
    }

    private static async Task<IResult> ListMessagesAsync(IStateStore state, int? limit, string? nextToken, CancellationToken cancellationToken)
    {
        var size = limit ?? DefaultPageSize;
        if (size is < 1 or > MaxPageSize)
        {
            return Problem(StatusCodes.Status400BadRequest, "InvalidParameterValue", $"limit must be between 1 and {MaxPageSize}");
        }

        if (nextToken is not null && !MessageId.IsValid(nextToken))
        {
            return Problem(StatusCodes.Status400BadRequest, "InvalidParameterValue", "nextToken is not a token returned by this API");
        }

        var page = await state.ListMessagesAsync(size, nextToken, cancellationToken);
        return Results.Json(new MessageListResponse(page.Messages.Select(MessageSummary.From).ToList(), page.NextToken), ApiJsonContext.Default.MessageListResponse);
    }

    private static async Task<IResult> GetMessageAsync(IStateStore state, string id, CancellationToken cancellationToken)
    {
        var message = MessageId.IsValid(id) ? await state.GetMessageAsync(id, cancellationToken) : null;
        return message is null
            ? Problem(StatusCodes.Status404NotFound, "MessageNotFound", $"No message with id {id}")
            : Results.Json(MessageSummary.From(message), ApiJsonContext.Default.MessageSummary);
    }

    private static async Task<IResult> GetRawAsync(IStateStore state, IBlobStore blobs, string id, CancellationToken cancellationToken)
    {
        var stream = MessageId.IsValid(id) && await state.MessageExistsAsync(id, cancellationToken)
            ? await blobs.OpenReadAsync(SmtpBackend.SpoolContainer, id + ".eml", cancellationToken)
            : null;
        return stream is null
            ? Problem(StatusCodes.Status404NotFound, "MessageNotFound", $"No message with id {id}")
            : Results.Stream(stream, "message/rfc822");
    }

    internal static IResult Problem(int status, string code, string message) =>
        Results.Json(new ErrorResponse(code, message), ApiJsonContext.Default.ErrorResponse, statusCode: status);
}
