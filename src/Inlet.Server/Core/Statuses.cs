namespace Inlet.Core;

// The states of Inlet's durable records, as the state store keeps them (its SQL compares with these) and as the API
// and the trace show them. One place for each set of values, so that no two spellings of a state exist.

/// <summary>Where a message stands.</summary>
internal static class MessageStatus
{
    /// <summary>Durable and acknowledged, waiting to be processed.</summary>
    public const string Queued = "queued";

    /// <summary>Rules are being applied.</summary>
    public const string Processing = "processing";

    /// <summary>An action failed and waits for its next attempt; later actions wait with it.</summary>
    public const string Retrying = "retrying";

    /// <summary>Every applicable rule ran to its end.</summary>
    public const string Processed = "processed";

    /// <summary>Processing finished, but an action gave up after its retries.</summary>
    public const string Failed = "failed";

    /// <summary>Inline mode: processed while the client waited; not yet answered. After a crash it was never acknowledged.</summary>
    public const string Inline = "inline";

    /// <summary>Inline mode: a Bounce action answered the client with its reply.</summary>
    public const string Bounced = "bounced";

    /// <summary>Inline mode: not accepted (a failure or the time budget); the client was told to try again.</summary>
    public const string Rejected = "rejected";

    public static bool IsUnfinished(string status) => status is Queued or Processing or Retrying;
}

/// <summary>Where a durable work item stands: an asynchronous invocation, an SNS delivery, an outbox item.</summary>
internal static class WorkStatus
{
    /// <summary>Waiting for its next attempt.</summary>
    public const string Pending = "pending";
}

/// <summary>Where an asynchronous invocation stands.</summary>
internal static class InvocationStatus
{
    public const string Pending = WorkStatus.Pending;

    /// <summary>Out of retries or too old: kept as a dead-letter record.</summary>
    public const string Dead = "dead";
}

/// <summary>Where an SNS delivery stands.</summary>
internal static class DeliveryStatus
{
    public const string Pending = WorkStatus.Pending;
    public const string Delivered = "delivered";

    /// <summary>Gave up after the topic's delivery policy.</summary>
    public const string Failed = "failed";

    /// <summary>The endpoint answered 4xx (other than 429).</summary>
    public const string Rejected = "rejected";

    public static bool IsValid(string status) => status is Pending or Delivered or Failed or Rejected;
}

/// <summary>What an outbox item is.</summary>
internal static class OutboxKind
{
    /// <summary>A delivery status notification: a Bounce action's, or SendBounce's.</summary>
    public const string Bounce = "bounce";

    /// <summary>A message sent through SendEmail, SendRawEmail or SESv2 SendEmail.</summary>
    public const string Sent = "sent";
}

/// <summary>Where an outbox item stands.</summary>
internal static class OutboxStatus
{
    /// <summary>No Outbound relay is configured: the message stays in the outbox, to be read there.</summary>
    public const string Held = "held";

    /// <summary>Queued for the relay; retried after a 4xx reply or a connection failure.</summary>
    public const string Pending = WorkStatus.Pending;

    public const string Sent = "sent";

    /// <summary>The relay refused it with a 5xx reply, or it was still undelivered after the Outbound queue's retry time.</summary>
    public const string Failed = "failed";
}
