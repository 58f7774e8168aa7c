using Inlet.Mail;
using Inlet.Rules;

namespace Inlet.Actions;

/// <summary>
/// AddHeader: appends a header at the end of the header block. Every later action, in this rule and in later
/// rules, sees the message with it.
/// </summary>
internal sealed class AddHeaderActionHandler : IActionHandler
{
    public Task<ActionResult> ExecuteAsync(ReceiptAction action, ActionContext context, CancellationToken cancellationToken)
    {
        var add = (AddHeaderReceiptAction)action;
        return Task.FromResult(new ActionResult(ActionOutcome.Continue)
        {
            Detail = $"{add.HeaderName}: {add.HeaderValue}",
            AddHeader = new AddedHeader(add.HeaderName, add.HeaderValue),
        });
    }
}
