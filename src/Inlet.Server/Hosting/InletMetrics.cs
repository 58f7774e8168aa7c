using System.Diagnostics.Metrics;

namespace Inlet.Hosting;

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
