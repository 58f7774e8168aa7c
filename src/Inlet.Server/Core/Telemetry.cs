using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Inlet.Core;

/// <summary>Inlet's counters, on one <see cref="Meter"/> named after the product.</summary>
internal static class InletMetrics
{
    public const string MeterName = "Inlet";

    private static readonly Meter s_meter = new(MeterName);

    public static readonly Counter<long> MessagesAccepted = s_meter.CreateCounter<long>("inlet.messages.accepted", description: "Messages acknowledged with 250");

    public static readonly Counter<long> ActionsRun = s_meter.CreateCounter<long>("inlet.actions", description: "Receipt actions run, by type and outcome");

    public static readonly Counter<long> ActionsExpired = s_meter.CreateCounter<long>("inlet.actions.expired", description: "Actions that gave up after the retry window (SES PublishExpired)");

    public static readonly Counter<long> ActionsFailed = s_meter.CreateCounter<long>("inlet.actions.failed", description: "Failed action attempts (SES PublishFailure)");
}

/// <summary>Inlet's traces, on one <see cref="ActivitySource"/> named after the product, as its Meter is.</summary>
internal static class InletActivity
{
    public const string SourceName = "Inlet";

    public static readonly ActivitySource Source = new(SourceName);
}

/// <summary>
/// The catalogue of log event ids: each folder of the engine owns a range, so that an id names one event for good
/// and a new event finds its number without a search. A test checks every <c>[LoggerMessage]</c> against it.
/// </summary>
internal static class LogEventIds
{
    public static readonly IReadOnlyDictionary<string, (int First, int Last)> Ranges = new Dictionary<string, (int, int)>
    {
        ["Hosting"] = (1, 99),
        ["Smtp"] = (100, 199),
        ["Processing"] = (200, 399),
        ["Functions"] = (400, 499),
        ["Notifications"] = (500, 599),
        ["Api"] = (600, 699),
        ["Outbound"] = (700, 799),
        ["Authentication"] = (800, 899),
        ["Management"] = (900, 999),
        ["WebConsole"] = (1000, 1199),
        ["Core"] = (1200, 1249),
        ["Storage"] = (1250, 1299),
    };
}
