namespace Inlet.Notifications;

/// <summary>Settings of Inlet's SNS.</summary>
internal sealed record SnsOptions
{
    /// <summary>
    /// The base of <c>SigningCertURL</c>, <c>SubscribeURL</c> and <c>UnsubscribeURL</c>: an https URL that reaches
    /// Inlet's HTTPS endpoint. Default: the HTTPS endpoint itself, e.g. <c>https://127.0.0.1:8026</c>.
    /// </summary>
    public string? BaseUrl { get; init; }

    /// <summary>The per-attempt timeout of an HTTP delivery (SNS: 15 s).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Deliver to https endpoints whose certificate the machine does not trust (for local subscribers).</summary>
    public bool AcceptAnyCertificate { get; init; }
}

/// <summary>Where Inlet can be reached from outside, known once the endpoints are bound.</summary>
internal sealed class PublicEndpoints
{
    public string BaseUrl { get; set; } = "https://127.0.0.1:8026";
}

/// <summary>A topic declared in the configuration file.</summary>
internal sealed record TopicDeclaration(string Name, IReadOnlyDictionary<string, string> Attributes, IReadOnlyList<SubscriptionDeclaration> Subscriptions);

internal sealed record SubscriptionDeclaration(string Protocol, string Endpoint, IReadOnlyDictionary<string, string> Attributes);
