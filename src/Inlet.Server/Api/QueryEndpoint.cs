using Inlet.Management;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Inlet.Api;

/// <summary>
/// <c>/</c> takes the AWS Query protocol: a request is routed to SNS or SES by its <c>Version</c> (and, failing
/// that, by its action's name). It also takes the JSON protocol of CloudWatch Logs, which names its operation in
/// <c>X-Amz-Target</c>. The SNS signing certificate is served next to it.
/// </summary>
internal static class QueryEndpoint
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var topics = app.ServiceProvider.GetRequiredService<TopicsService>();
        app.MapMethods("/", [HttpMethods.Get, HttpMethods.Post], HandleAsync);
        app.MapGet("/" + topics.CertificateFileName, () => Results.Text(topics.CertificatePem, "application/x-pem-file"));
    }

    /// <summary>The service a Query request is for, by the same routing as <see cref="HandleAsync"/>; null when none serves it.</summary>
    public static string? ServiceOf(QueryRequest query)
    {
        if (query.Action is not { } action)
        {
            return null;
        }

        var version = query.Get("Version");
        return version == StsQueryApi.Version || (version is null && action == "GetCallerIdentity") ? "sts"
            : version == SnsQueryApi.Version || (version is null && SnsQueryApi.Actions.Contains(action)) ? "sns"
            : (version is null or SesQueryApi.Version) && SesSendingQueryApi.Actions.Contains(action) ? "ses"
            : version == SesQueryApi.Version || (version is null && action.Contains("Receipt", StringComparison.Ordinal)) ? "ses"
            : null;
    }

    private static async Task<IResult> HandleAsync(HttpContext context, TopicsService sns, ReceiptRulesService rules, SendingService sending, AwsAccount options, CancellationToken cancellationToken)
    {
        var target = context.Request.Headers["X-Amz-Target"].ToString();
        if (target.StartsWith(LogsApi.TargetPrefix, StringComparison.Ordinal) && HttpMethods.IsPost(context.Request.Method))
        {
            return await LogsApi.HandleAsync(context, target[LogsApi.TargetPrefix.Length..], cancellationToken);
        }

        QueryRequest query;
        try
        {
            query = context.Items[typeof(QueryRequest)] as QueryRequest ?? await QueryRequest.ReadAsync(context.Request, cancellationToken);
        }
        catch (QueryRequestException e)
        {
            return QueryXml.Error(SnsQueryApi.Namespace, e.Code, e.Message, 400);
        }

        var action = query.Action;
        if (action is null)
        {
            return QueryXml.Error(SnsQueryApi.Namespace, "MissingAction", "The request has no Action parameter (an AWS Query request is Action=…&Version=…)", 400);
        }

        var version = query.Get("Version");
        if (version == StsQueryApi.Version || (version is null && action == "GetCallerIdentity"))
        {
            return StsQueryApi.Handle(query, context, options);
        }

        if (version == SnsQueryApi.Version || (version is null && SnsQueryApi.Actions.Contains(action)))
        {
            return await SnsQueryApi.HandleAsync(query, sns, cancellationToken);
        }

        if ((version is null or SesQueryApi.Version) && SesSendingQueryApi.Actions.Contains(action))
        {
            return await SesSendingQueryApi.HandleAsync(query, sending, context, cancellationToken);
        }

        if (version == SesQueryApi.Version || (version is null && action.Contains("Receipt", StringComparison.Ordinal)))
        {
            return await SesQueryApi.HandleAsync(query, rules, cancellationToken);
        }

        return QueryXml.Error(SnsQueryApi.Namespace, "InvalidAction", $"The action {action} (version {version ?? "none"}) is not served here", 400);
    }
}
