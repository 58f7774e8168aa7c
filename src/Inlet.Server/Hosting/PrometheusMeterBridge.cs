using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Prometheus;

namespace Inlet.Hosting;

/// <summary>
/// Publishes the counters of Inlet's Meter as Prometheus counters named by Prometheus's conventions
/// (https://prometheus.io/docs/practices/naming/): the instrument's name with <c>_</c> for <c>.</c> and the
/// <c>_total</c> suffix, so <c>inlet.messages.accepted</c> is <c>inlet_messages_accepted_total</c>. prometheus-net's
/// own meter adapter would prefix the meter's name (<c>inlet_inlet_…</c>) and publish counters as gauges.
/// </summary>
internal sealed class PrometheusMeterBridge : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(Instrument Instrument, string Labels), Prometheus.Counter> _counters = new();
    private readonly IMetricFactory _factory;

    public PrometheusMeterBridge(CollectorRegistry registry, string meterName)
    {
        _factory = Metrics.WithCustomRegistry(registry);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == meterName && instrument is Counter<long>)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>(OnMeasurement);
        _listener.Start();
    }

    /// <summary>The Prometheus name of a counter instrument.</summary>
    public static string PrometheusName(string instrumentName) => instrumentName.Replace('.', '_').Replace('-', '_') + "_total";

    private void OnMeasurement(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        var pairs = tags.ToArray().OrderBy(t => t.Key, StringComparer.Ordinal).ToArray();
        var names = pairs.Select(t => t.Key).ToArray();
        var counter = _counters.GetOrAdd((instrument, string.Join(',', names)), key =>
            _factory.CreateCounter(PrometheusName(key.Instrument.Name), key.Instrument.Description ?? key.Instrument.Name, names));
        counter.WithLabels([.. pairs.Select(t => t.Value?.ToString() ?? string.Empty)]).Inc(value);
    }

    public void Dispose() => _listener.Dispose();
}
