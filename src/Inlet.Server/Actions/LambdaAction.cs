using System.Text.Json;
using Inlet.Functions;
using Inlet.Mail;
using Inlet.Rules;

namespace Inlet.Actions;

/// <summary>
/// Lambda: runs the function with the SES event — one record, the mail and receipt objects, no body.
/// <c>RequestResponse</c> waits at most SES's 30 seconds and lets the result's <c>disposition</c> steer the flow
/// (case-insensitive; a missing or unknown value means CONTINUE); a function error, timeout or crash fails the
/// action, which is retried. <c>Event</c> puts the invocation in the durable asynchronous queue and goes on.
/// </summary>
internal sealed class LambdaActionHandler(FunctionRegistry registry, FunctionInvoker invoker, AsyncInvocationQueue queue, ReceiptNotifier notifier) : IActionHandler
{
    public const string InvokeStep = "invoke";

    public async Task<ActionResult> ExecuteAsync(ReceiptAction action, ActionContext context, CancellationToken cancellationToken)
    {
        var lambda = (LambdaReceiptAction)action;
        var receipt = ReceiptActionFields.For(lambda, context.Message.Id, registry);
        // The invocation is a step: once the function has run (or the event is queued), a retry of this action — after
        // its notification failed, say — goes on from there and never runs the function again.
        var invoked = context.Completed(InvokeStep);
        if (invoked is null)
        {
            var function = registry.Resolve(lambda.FunctionArn);
            if (function is null)
            {
                return ActionResult.Fail(registry.NotFoundMessage(lambda.FunctionArn));
            }

            var payload = JsonSerializer.SerializeToUtf8Bytes(CreateEvent(receipt, context), SesJsonContext.Default.SesEvent);
            if (lambda.InvocationType == LambdaInvocationType.Event)
            {
                var id = await queue.EnqueueAsync(function, payload, $"ses:{context.Message.Id}", cancellationToken);
                invoked = new CompletedStep(InvokeStep) { Value = Disposition.Continue, Detail = $"queued as asynchronous invocation {id} of {function.FunctionName}" };
            }
            else
            {
                InvocationResult result;
                try
                {
                    result = await invoker.InvokeAsync(function, payload, new InvokeOptions { CallerTimeout = FunctionsOptions.SesRequestResponseLimit, Source = $"ses:{context.Message.Id}" }, cancellationToken);
                }
                catch (FunctionThrottledException e)
                {
                    return ActionResult.Fail($"TooManyRequestsException: {e.Message}");
                }

                if (result.FunctionError is not null)
                {
                    return ActionResult.Fail($"{result.ErrorType}: {result.ErrorMessage} (function {function.FunctionName}, request {result.RequestId})") with { Calls = result.AwsCalls };
                }

                var disposition = ReadDisposition(result.Payload);
                invoked = new CompletedStep(InvokeStep)
                {
                    Value = disposition,
                    Detail = $"{function.FunctionName} answered disposition {disposition} in {result.Duration.TotalMilliseconds:F0} ms (request {result.RequestId})",
                    Calls = result.AwsCalls,
                };
            }

            await context.RecordStep(invoked, cancellationToken);
        }

        await notifier.NotifyAsync(receipt, context, cancellationToken);
        return new ActionResult(invoked.Value switch
        {
            Disposition.StopRule => ActionOutcome.StopRule,
            Disposition.StopRuleSet => ActionOutcome.StopRuleSet,
            _ => ActionOutcome.Continue,
        })
        { Detail = invoked.Detail };
    }

    /// <summary>
    /// The event the function gets: one record with the mail object and the action's receipt. Also what
    /// <c>GET /api/messages/{id}/event</c> rebuilds for a stored message, so the two cannot drift apart.
    /// </summary>
    public static SesEvent CreateEvent(SesReceiptAction receipt, ActionContext context) =>
        // The event's receipt.action has no topicArn: that belongs to the notification.
        new([new SesEventRecord { Ses = new SesContent(context.Mail, context.CreateReceipt(receipt with { TopicArn = null })) }]);

    /// <summary>The <c>disposition</c> of a function's result (see <see cref="Disposition.Read"/>).</summary>
    public static string ReadDisposition(byte[] payload) => Disposition.Read(payload);
}
