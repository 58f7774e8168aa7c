using Inlet.Processing;
using Inlet.Storage;
using Microsoft.Extensions.Hosting;

namespace Inlet.Management;

/// <summary>What <c>GET /health</c> answers a load balancer: whether this node can accept mail now.</summary>
internal sealed record HealthReport(bool Healthy, string Node, string? Problem);

/// <summary>
/// A node can accept mail when it is not stopping, its state store answers and its spool can be reached: the things a
/// 250 needs. Each probe has a short deadline, so that a load balancer hears "unhealthy" rather than nothing.
/// </summary>
internal sealed class NodeHealth(IChangeFeed state, BlobStores blobs, StateOptions options, IHostApplicationLifetime lifetime)
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(3);

    public async Task<HealthReport> CheckAsync(CancellationToken cancellationToken)
    {
        var node = options.NodeId ?? string.Empty;
        if (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            // SMTP answers 421 from this moment; a load balancer should send no more mail here.
            return new HealthReport(false, node, "the node is stopping");
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(s_deadline);
        try
        {
            await state.ReadVersionsAsync(deadline.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthReport(false, node, $"the state store ({options.Type}) does not answer: {e.Message}");
        }

        try
        {
            await blobs.Spool.ContainerExistsAsync(SmtpBackend.SpoolContainer, deadline.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthReport(false, node, $"the spool does not answer: {e.Message}");
        }

        return new HealthReport(true, node, null);
    }
}
