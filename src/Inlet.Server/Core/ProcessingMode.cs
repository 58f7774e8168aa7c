namespace Inlet.Core;

/// <summary>How processing relates to the SMTP reply.</summary>
internal enum ProcessingMode
{
    /// <summary>As SES: the final 250 comes once the message is durable; rules run afterwards.</summary>
    Async,

    /// <summary>Rules run before the final reply, so a rejection becomes the SMTP reply itself.</summary>
    Inline,
}
