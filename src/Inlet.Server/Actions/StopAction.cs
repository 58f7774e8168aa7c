using Inlet.Mail;
using Inlet.Rules;

namespace Inlet.Actions;

/// <summary>Stop: ends the evaluation of the rule set — no more actions, no more rules.</summary>
internal sealed class StopActionHandler : IActionHandler
{
    public Task<ActionResult> ExecuteAsync(ReceiptAction action, ActionContext context, CancellationToken cancellationToken)
    {
        var stop = (StopReceiptAction)action;
        return Task.FromResult(new ActionResult(ActionOutcome.StopRuleSet)
        {
            Detail = "Stop action: the rule set ends here",
            Receipt = ReceiptActionFields.For(stop, context.Message.Id),
        });
    }
}
