using System.Text;
using Inlet.Functions;
using Inlet.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Inlet.Notifications;

/// <summary>
/// Sends the durable deliveries: HTTP/HTTPS POSTs exactly as SNS makes them (headers, 15 s timeout; 2xx ends the
/// delivery, 4xx other than 429 ends it as rejected, anything else is retried by the topic's delivery policy), and
/// Lambda deliveries as asynchronous invocations of the function. Deliveries survive a restart; the ones that give
/// up stay listed as failed.
/// </summary>
internal sealed partial class DeliveryDispatcher : BackgroundService
{
    public const string Pending = DeliveryStatus.Pending;
    public const string Delivered = DeliveryStatus.Delivered;
    public const string Failed = DeliveryStatus.Failed;
    public const string Rejected = DeliveryStatus.Rejected;
    private const int Parallelism = 16;

    private readonly IDeliveryStore _state;
    private readonly SnsService _sns;
    private readonly FunctionRegistry _functions;
    private readonly AsyncInvocationQueue _invocations;
    private readonly SnsOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly HttpClient _http;
    private readonly DueWorkLoop<DeliveryRecord> _loop;

    public DeliveryDispatcher(IDeliveryStore state, SnsService sns, FunctionRegistry functions, AsyncInvocationQueue invocations, SnsOptions options, StateOptions leases, TimeProvider time, ILogger<DeliveryDispatcher> logger)
    {
        _state = state;
        _sns = sns;
        _functions = functions;
        _invocations = invocations;
        _options = options;
        _time = time;
        _logger = logger;
        var handler = new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) };
        if (options.AcceptAnyCertificate)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }

        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("Amazon Simple Notification Service Agent");
        _loop = new DueWorkLoop<DeliveryRecord>("SNS deliveries", state.DeliveryQueue, d => d.Id, DeliverAsync, Parallelism, leases.Lease, time, logger);
        sns.DeliveriesAdded += _loop.Wake;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => _loop.RunAsync(stoppingToken);

    /// <summary>
    /// Puts a delivery that gave up (failed, or rejected by its endpoint) back in the queue with a fresh retry policy,
    /// the same signed document as before. False when there is no such delivery among the ended ones.
    /// </summary>
    /// <summary>Deliveries with the status (all when null), newest first.</summary>
    public Task<IReadOnlyList<DeliveryRecord>> ListAsync(string? status, int limit, CancellationToken cancellationToken) =>
        _state.ListDeliveriesAsync(status, limit, cancellationToken);

    public async Task<bool> RedriveAsync(string id, CancellationToken cancellationToken)
    {
        foreach (var status in new[] { Failed, Rejected })
        {
            // The newest thousand of each: re-drive is for what an operator sees in the list.
            var ended = (await _state.ListDeliveriesAsync(status, 1000, cancellationToken)).FirstOrDefault(d => d.Id == id);
            if (ended is not null)
            {
                await _state.UpdateDeliveryAsync(ended with { Status = Pending, Attempts = 0, NextAttemptAt = _time.GetUtcNow(), LastError = null }, cancellationToken);
                _loop.Wake();
                return true;
            }
        }

        return false;
    }

    private async Task DeliverAsync(DeliveryRecord delivery, CancellationToken stoppingToken)
    {
        try
        {
            var subscription = _sns.Subscriptions.FirstOrDefault(s => s.Arn == delivery.SubscriptionArn);
            if (subscription is null && delivery.MessageType != "UnsubscribeConfirmation")
            {
                await _state.UpdateDeliveryAsync(delivery with { Status = Failed, LastError = "the subscription no longer exists" }, stoppingToken);
                return;
            }

            var (outcome, error) = subscription?.Protocol == "lambda"
                ? await DeliverToLambdaAsync(delivery, subscription, stoppingToken)
                : await DeliverOverHttpAsync(delivery, subscription, stoppingToken);
            var now = _time.GetUtcNow();
            if (outcome is Delivered or Rejected)
            {
                await _state.UpdateDeliveryAsync(delivery with { Status = outcome, Attempts = delivery.Attempts + 1, LastError = error, DeliveredAt = now }, stoppingToken);
                return;
            }

            var attempts = delivery.Attempts + 1;
            var delay = PolicyFor(delivery, subscription).DelayBefore(attempts);
            if (delay is null)
            {
                LogGaveUp(_logger, delivery.Id, delivery.SubscriptionArn, attempts, error);
                await _state.UpdateDeliveryAsync(delivery with { Status = Failed, Attempts = attempts, LastError = $"gave up after {attempts} attempt(s): {error}" }, stoppingToken);
                return;
            }

            await _state.UpdateDeliveryAsync(delivery with { Attempts = attempts, NextAttemptAt = now + delay.Value, LastError = error }, stoppingToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            LogFailed(_logger, delivery.Id, e);
        }
    }

    /// <summary>HTTP/S: the subscription's delivery policy wins over the topic's; SNS's default otherwise. Lambda: SNS's managed policy, shortened.</summary>
    private DeliveryPolicy PolicyFor(DeliveryRecord delivery, SubscriptionRecord? subscription)
    {
        if (subscription?.Protocol == "lambda")
        {
            return new DeliveryPolicy { NumRetries = 10, NumNoDelayRetries = 3, MinDelayTarget = 1, MaxDelayTarget = 20, BackoffFunction = "exponential" };
        }

        if (subscription?.Attributes.TryGetValue("DeliveryPolicy", out var own) == true)
        {
            return DeliveryPolicy.Parse(own, out _);
        }

        var topic = _sns.FindTopic(delivery.TopicArn);
        return topic?.Attributes.TryGetValue("DeliveryPolicy", out var policy) == true ? DeliveryPolicy.Parse(policy, out _) : DeliveryPolicy.Default;
    }

    private async Task<(string Outcome, string? Error)> DeliverOverHttpAsync(DeliveryRecord delivery, SubscriptionRecord? subscription, CancellationToken cancellationToken)
    {
        var endpoint = delivery.Endpoint;
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent(delivery.Body, Encoding.UTF8) };
        request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("text/plain; charset=UTF-8");
        request.Headers.Add("x-amz-sns-message-type", delivery.MessageType);
        request.Headers.Add("x-amz-sns-message-id", delivery.MessageId);
        request.Headers.Add("x-amz-sns-topic-arn", delivery.TopicArn);
        if (delivery.MessageType != "SubscriptionConfirmation")
        {
            request.Headers.Add("x-amz-sns-subscription-arn", delivery.SubscriptionArn);
        }

        if (delivery.MessageType == "Notification" && subscription?.Attributes.TryGetValue("RawMessageDelivery", out var raw) == true && raw == "true")
        {
            request.Headers.Add("x-amz-sns-rawdelivery", "true");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        try
        {
            using var response = await _http.SendAsync(request, timeout.Token);
            var status = (int)response.StatusCode;
            return status switch
            {
                >= 200 and < 300 => (Delivered, null),
                429 => (Pending, "the endpoint answered 429 Too Many Requests"),
                >= 400 and < 500 => (Rejected, $"the endpoint answered {status} {response.ReasonPhrase}: not retried (SNS ends a delivery on a 4xx)"),
                _ => (Pending, $"the endpoint answered {status} {response.ReasonPhrase}"),
            };
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return (Pending, $"no answer within {_options.RequestTimeout.TotalSeconds:F0} seconds");
        }
        catch (HttpRequestException e)
        {
            return (Pending, $"{endpoint}: {e.Message}");
        }
    }

    private async Task<(string Outcome, string? Error)> DeliverToLambdaAsync(DeliveryRecord delivery, SubscriptionRecord subscription, CancellationToken cancellationToken)
    {
        var function = _functions.Resolve(subscription.Endpoint);
        if (function is null)
        {
            return (Pending, _functions.NotFoundMessage(subscription.Endpoint));
        }

        // SNS invokes Lambda asynchronously: the function's own errors are Lambda's retries to make.
        var id = await _invocations.EnqueueAsync(function, Encoding.UTF8.GetBytes(delivery.Body), $"sns:{delivery.MessageId}", cancellationToken);
        return (Delivered, $"asynchronous invocation {id}");
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Error, Message = "SNS delivery {Id} to {Subscription} gave up after {Attempts} attempt(s): {Error}")]
    private static partial void LogGaveUp(ILogger logger, string id, string subscription, int attempts, string? error);

    [LoggerMessage(EventId = 501, Level = LogLevel.Error, Message = "SNS delivery {Id} could not be attempted")]
    private static partial void LogFailed(ILogger logger, string id, Exception exception);

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }
}
