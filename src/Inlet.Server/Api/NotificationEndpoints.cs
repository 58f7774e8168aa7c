using Inlet.Management;
using Inlet.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Inlet.Api;

internal sealed record TopicView(string TopicArn, string Name, IReadOnlyDictionary<string, string> Attributes, int Subscriptions);

internal sealed record TopicListResponse(IReadOnlyList<TopicView> Topics);

internal sealed record SubscriptionView(string SubscriptionArn, string TopicArn, string Protocol, string Endpoint, bool Confirmed, IReadOnlyDictionary<string, string> Attributes);

internal sealed record SubscriptionListResponse(IReadOnlyList<SubscriptionView> Subscriptions);

internal sealed record DeliveryView(string Id, string SubscriptionArn, string TopicArn, string MessageType, string MessageId, string Status, int Attempts, DateTimeOffset CreatedAt, DateTimeOffset NextAttemptAt, DateTimeOffset? DeliveredAt, string? LastError);

internal sealed record DeliveryListResponse(IReadOnlyList<DeliveryView> Deliveries);

/// <summary>Inlet's own views of SNS: topics, subscriptions and deliveries (failed ones never silent).</summary>
internal static class NotificationEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api");
        api.MapGet("/topics", (TopicsService sns) => Results.Json(
            new TopicListResponse(sns.Topics.Select(t => new TopicView(t.Arn, t.Name, t.Attributes, sns.Subscriptions.Count(s => s.TopicArn == t.Arn))).ToList()),
            ApiJsonContext.Default.TopicListResponse));
        api.MapGet("/subscriptions", (TopicsService sns) => Results.Json(
            new SubscriptionListResponse(sns.Subscriptions.Select(s => new SubscriptionView(s.Arn, s.TopicArn, s.Protocol, s.Endpoint, s.Confirmed, s.Attributes)).ToList()),
            ApiJsonContext.Default.SubscriptionListResponse));
        api.MapGet("/deliveries", async (TopicsService topics, string? status, int? limit, CancellationToken ct) =>
        {
            if (status is not null && !DeliveryStatus.IsValid(status))
            {
                return ApiEndpoints.Problem(StatusCodes.Status400BadRequest, "InvalidParameterValue", "status is pending, delivered, failed or rejected");
            }

            var list = await topics.ListDeliveriesAsync(status, Math.Clamp(limit ?? 100, 1, 1000), ct);
            return Results.Json(
                new DeliveryListResponse(list.Select(d => new DeliveryView(d.Id, d.SubscriptionArn, d.TopicArn, d.MessageType, d.MessageId, d.Status, d.Attempts, d.CreatedAt, d.NextAttemptAt, d.DeliveredAt, d.LastError)).ToList()),
                ApiJsonContext.Default.DeliveryListResponse);
        });
        api.MapPost("/deliveries/{id}/redrive", async (TopicsService topics, string id, CancellationToken ct) =>
            await topics.RedriveDeliveryAsync(id, ct)
                ? Results.Accepted()
                : ApiEndpoints.Problem(StatusCodes.Status404NotFound, "ResourceNotFound", $"No failed or rejected delivery {id}: only deliveries that gave up can be re-driven"));
    }
}
