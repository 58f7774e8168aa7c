using Inlet.Mail;
using Inlet.Rules;

namespace Inlet.Actions;

/// <summary>Stop: ends the evaluation of the rule set — no more actions, no more rules.</summary>
internal sealed class StopActionHandler(ReceiptNotifier notifier) : IActionHandler
{
    public async Task<ActionResult> ExecuteAsync(ReceiptAction action, ActionContext context, CancellationToken cancellationToken)
    {
        var stop = (StopReceiptAction)action;
        await notifier.NotifyAsync(ReceiptActionFields.For(stop, context.Message.Id), context, cancellationToken);
        return new ActionResult(ActionOutcome.StopRuleSet) { Detail = "Stop action: the rule set ends here" };
    }
}
