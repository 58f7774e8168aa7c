using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Inlet.Api;
using Inlet.Management;
using Inlet.Rules;
using Inlet.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using MimeKit;

namespace Inlet.WebConsole;

/// <summary>
/// The read endpoints the console needs beyond the API (rules, a message's content and parts, the invocation
/// history, the live stream) and its one action of its own, invoking a function. State-changing requests carry
/// <see cref="ConsoleHeader"/>: a cross-site form cannot send a custom header, and a cross-site script that tries
/// needs a CORS preflight that this server never grants.
/// </summary>
internal static class ConsoleEndpoints
{
    public const string ConsoleHeader = "X-Inlet-Console";

    public static void Map(IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api");
        api.MapGet("/rules", GetRules);
        api.MapGet("/messages/{id}/content", GetContentAsync);
        api.MapGet("/messages/{id}/parts/{index:int}", GetPartAsync);
        api.MapGet("/messages/{id}/invocations", GetMessageInvocations);
        api.MapGet("/functions/{name}", GetFunction);
        api.MapGet("/functions/{name}/invocations", ListFunctionInvocations);
        api.MapPost("/functions/{name}/invoke", InvokeAsync).AddEndpointFilter(RequireConsoleHeader);
        api.MapGet("/events", StreamAsync);
    }

    /// <summary>Refuses a state-changing request that does not come from a page of this server.</summary>
    internal static async ValueTask<object?> RequireConsoleHeader(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        context.HttpContext.Request.Headers[ConsoleHeader].ToString() == "1"
            ? await next(context)
            : ApiEndpoints.Problem(StatusCodes.Status403Forbidden, "ConsoleHeaderMissing", $"send the header {ConsoleHeader}: 1 with this request");

    private static IResult GetRules(ReceiptConfigurationProvider provider, MessageService messages)
    {
        var configuration = provider.Current.Configuration;
        var sets = configuration.RuleSets.Select(set => new RuleSetView(
            set.Name,
            set.Name == configuration.ActiveRuleSetName,
            set.Rules.Select(rule => new RuleView(
                rule.Name,
                rule.Enabled,
                rule.TlsPolicy.ToString(),
                rule.ScanEnabled,
                rule.Recipients,
                rule.Actions.Select(action =>
                {
                    var (receipt, effect) = messages.Describe(action);
                    return new RuleActionView(action.Type, receipt with { ObjectKey = null }, effect);
                }).ToList())).ToList())).ToList();
        var filters = configuration.Filters.Select(f => new FilterView(f.Name, f.Policy.ToString(), f.Cidr)).ToList();
        return Results.Json(new RulesView(configuration.ActiveRuleSetName, configuration.Version, sets, filters), ConsoleJsonContext.Default.RulesView);
    }

    private static async Task<MimeMessage?> LoadAsync(IMessageStore state, BlobStores blobs, string id, CancellationToken cancellationToken)
    {
        if (!MessageId.IsValid(id) || !await state.MessageExistsAsync(id, cancellationToken))
        {
            return null;
        }

        await using var stream = await MessageService.OpenReceivedAsync(blobs, id, cancellationToken);
        return stream is null ? null : await MimeMessage.LoadAsync(stream, cancellationToken);
    }

    /// <summary>The parts of a message in one order, which part links (<c>/parts/{index}</c>) refer to.</summary>
    internal static List<MimeEntity> Parts(MimeMessage message) => [.. message.BodyParts];

    private static async Task<IResult> GetContentAsync(IMessageStore state, BlobStores blobs, string id, CancellationToken cancellationToken)
    {
        var message = await LoadAsync(state, blobs, id, cancellationToken);
        if (message is null)
        {
            return ApiEndpoints.Problem(StatusCodes.Status404NotFound, "MessageNotFound", $"No stored content for message {id}");
        }

        var headers = message.Headers.Select(h => new HeaderView(h.Field, h.Value)).ToList();
        var parts = Parts(message);
        var attachments = new List<PartView>();
        for (var i = 0; i < parts.Count; i++)
        {
            var part = parts[i];
            if (part is MimePart mime && (mime.IsAttachment || (mime.ContentId is not null && !mime.ContentType.IsMimeType("text", "*"))))
            {
                attachments.Add(new PartView(i, mime.FileName ?? mime.ContentId ?? $"part-{i}", mime.ContentType.MimeType, await SizeAsync(mime, cancellationToken), mime.ContentId, mime.IsAttachment));
            }
        }

        return Results.Json(new ContentView(headers, message.TextBody, message.HtmlBody is not null, attachments), ConsoleJsonContext.Default.ContentView);
    }

    private static async Task<long> SizeAsync(MimePart part, CancellationToken cancellationToken)
    {
        if (part.Content is null)
        {
            return 0;
        }

        using var counter = new MimeKit.IO.MeasuringStream();
        await part.Content.DecodeToAsync(counter, cancellationToken);
        return counter.Length;
    }

    private static async Task<IResult> GetPartAsync(HttpResponse response, IMessageStore state, BlobStores blobs, string id, int index, CancellationToken cancellationToken)
    {
        var message = await LoadAsync(state, blobs, id, cancellationToken);
        var parts = message is null ? [] : Parts(message);
        if (index < 0 || index >= parts.Count || parts[index] is not MimePart part)
        {
            return ApiEndpoints.Problem(StatusCodes.Status404NotFound, "PartNotFound", $"Message {id} has no part {index}");
        }

        var content = new MemoryStream();
        if (part.Content is not null)
        {
            await part.Content.DecodeToAsync(content, cancellationToken);
        }

        content.Position = 0;
        // Parts are the sender's bytes: they are downloaded, never rendered as a page of this origin.
        response.Headers.ContentSecurityPolicy = "sandbox; default-src 'none'";
        response.Headers.XContentTypeOptions = "nosniff";
        var inline = part.ContentType.MediaType == "image";
        return Results.Stream(content, inline ? part.ContentType.MimeType : "application/octet-stream", inline ? null : part.FileName ?? $"part-{index}");
    }

    private static IResult GetMessageInvocations(FunctionsService functions, string id) =>
        Results.Json(new InvocationListView(functions.InvocationsFrom($"ses:{id}")), ConsoleJsonContext.Default.InvocationListView);

    private static IResult GetFunction(FunctionsService functions, string name)
    {
        var f = functions.Find(name);
        return f is null
            ? ApiEndpoints.Problem(StatusCodes.Status404NotFound, "ResourceNotFoundException", functions.NotFoundMessage(name))
            : Results.Json(
                new FunctionView(f.FunctionName, f.FunctionArn, f.Runtime, f.Handler, f.Description, f.Timeout, f.MemorySize, f.Role, f.CodePath, f.CodeSha256, f.CodeSize, f.Url, f.Environment, f.ReservedConcurrentExecutions, f.MaximumRetryAttempts, f.MaximumEventAgeInSeconds, f.LastModified),
                ConsoleJsonContext.Default.FunctionView);
    }

    private static IResult ListFunctionInvocations(FunctionsService functions, string name, int? limit)
    {
        var function = functions.Find(name);
        return function is null
            ? ApiEndpoints.Problem(StatusCodes.Status404NotFound, "ResourceNotFoundException", functions.NotFoundMessage(name))
            : Results.Json(new InvocationListView(functions.Invocations(function.FunctionName, Math.Clamp(limit ?? 50, 1, FunctionsService.KeptInvocations))), ConsoleJsonContext.Default.InvocationListView);
    }

    /// <summary>
    /// Invokes a function synchronously, with the body as its event, or with the SES event of a stored message
    /// (<c>?message=</c>), as <c>aws lambda invoke</c> would with the output of <c>GET /api/messages/{id}/event</c>.
    /// </summary>
    private static async Task<IResult> InvokeAsync(HttpRequest request, FunctionsService functions, IMessageStore state, StoredEventBuilder events, string name, string? message, CancellationToken cancellationToken)
    {
        var function = functions.Find(name);
        if (function is null)
        {
            return ApiEndpoints.Problem(StatusCodes.Status404NotFound, "ResourceNotFoundException", functions.NotFoundMessage(name));
        }

        byte[] payload;
        string source;
        if (message is not null)
        {
            var record = MessageId.IsValid(message) ? await state.GetMessageAsync(message, cancellationToken) : null;
            if (record is null)
            {
                return ApiEndpoints.Problem(StatusCodes.Status404NotFound, "MessageNotFound", $"No message with id {message}");
            }

            try
            {
                payload = JsonSerializer.SerializeToUtf8Bytes((await events.BuildAsync(record, function.FunctionName, cancellationToken)).Event, Inlet.Mail.SesJsonContext.Default.SesEvent);
            }
            catch (FileNotFoundException)
            {
                return ApiEndpoints.Problem(StatusCodes.Status404NotFound, "MessageNotFound", $"Message {message} is recorded but its content is no longer stored");
            }

            source = $"console:{message}";
        }
        else
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, cancellationToken);
            if (body.Length > FunctionsService.MaxSyncPayload)
            {
                return ApiEndpoints.Problem(StatusCodes.Status413PayloadTooLarge, "RequestTooLargeException", $"the event must be smaller than {FunctionsService.MaxSyncPayload} bytes");
            }

            payload = body.Length == 0 ? "{}"u8.ToArray() : body.ToArray();
            try
            {
                using var _ = JsonDocument.Parse(payload);
            }
            catch (JsonException e)
            {
                return ApiEndpoints.Problem(StatusCodes.Status400BadRequest, "InvalidRequestContentException", $"the event is not JSON: {e.Message}");
            }

            source = "console";
        }

        try
        {
            await functions.InvokeAsync(function, payload, source, clientContext: null, invokedArn: null, cancellationToken);
        }
        catch (FunctionException e) when (e.Code == FunctionException.TooManyRequests)
        {
            return ApiEndpoints.Problem(StatusCodes.Status429TooManyRequests, "TooManyRequestsException", e.Message);
        }

        // The invoker recorded it; the newest of this source is this one.
        return Results.Json(functions.NewestInvocation(function.FunctionName, source), ConsoleJsonContext.Default.InvocationView);
    }

    /// <summary>
    /// Server-sent events: <c>message</c> (a message arrived or changed: its summary), <c>invocation</c> (a function
    /// finished), and with <c>?function=</c> that function's <c>log</c> lines as they are written.
    /// </summary>
    private static async Task StreamAsync(HttpContext context, MessageFeed feed, FunctionsService functions, IHostApplicationLifetime lifetime, string? function)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var token = stop.Token;
        var frames = Channel.CreateBounded<string>(new BoundedChannelOptions(2000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        var followed = function is null ? null : functions.Find(function)?.FunctionName ?? function;

        void Send(string kind, string json) => frames.Writer.TryWrite($"event: {kind}\ndata: {json}\n\n");

        var invocations = functions.OnInvocation(v => Send("invocation", JsonSerializer.Serialize(v with { Event = string.Empty, Result = string.Empty }, ConsoleJsonContext.Default.InvocationView)));
        try
        {
            var messages = feed.Subscribe(token);
            var pump = Task.Run(async () =>
            {
                await foreach (var m in messages.ReadAllAsync(token))
                {
                    Send("message", JsonSerializer.Serialize(MessageSummary.From(m), ApiJsonContext.Default.MessageSummary));
                }
            }, token);
            // Subscribed before the stream says it is connected: a line written once the page sees the stream
            // open is sent to it.
            var followedLines = followed is null ? null : functions.FollowLog(followed, token);
            var lines = followedLines is null ? Task.CompletedTask : Task.Run(async () =>
            {
                await foreach (var line in followedLines.ReadAllAsync(token))
                {
                    Send("log", JsonSerializer.Serialize(LogView.From(line), ConsoleJsonContext.Default.LogView));
                }
            }, token);

            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-store";
            // The browser reconnects by itself after this long when the stream breaks.
            await context.Response.WriteAsync("retry: 2000\n: connected\n\n", token);
            await context.Response.Body.FlushAsync(token);
            while (true)
            {
                using var heartbeat = CancellationTokenSource.CreateLinkedTokenSource(token);
                heartbeat.CancelAfter(TimeSpan.FromSeconds(15));
                string frame;
                try
                {
                    frame = await frames.Reader.ReadAsync(heartbeat.Token);
                }
                catch (OperationCanceledException) when (!token.IsCancellationRequested)
                {
                    frame = ": keep-alive\n\n";
                }

                await context.Response.WriteAsync(frame, token);
                while (frames.Reader.TryRead(out var more))
                {
                    await context.Response.WriteAsync(more, token);
                }

                await context.Response.Body.FlushAsync(token);
            }
        }
        catch (OperationCanceledException)
        {
            // The page went away, or the server stops.
        }
        finally
        {
            invocations.Dispose();
        }
    }
}
