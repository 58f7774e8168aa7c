namespace Inlet.Core;

/// <summary>
/// A durable work queue that several nodes share: an item is claimed by one node for a lease, kept while the node
/// renews the lease, and released when the node is done with it (its record then says whether it is due again). A
/// node that dies stops renewing; when its leases run out, another node claims the items. Leases of an earlier run
/// of the same node are released when the store starts, so a restarted node does not wait for its own leases.
/// </summary>
internal interface IWorkQueue<T>
{
    /// <summary>Claims up to <paramref name="limit"/> items that are due and not leased, oldest first.</summary>
    Task<IReadOnlyList<T>> ClaimDueAsync(DateTimeOffset now, TimeSpan lease, int limit, CancellationToken cancellationToken);

    /// <summary>Extends this node's leases on the items.</summary>
    Task RenewAsync(IReadOnlyCollection<string> ids, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Gives up this node's lease on the item.</summary>
    Task ReleaseAsync(string id, CancellationToken cancellationToken);

    /// <summary>When the next item waiting for a time is due, if any.</summary>
    Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken);
}

/// <summary>What a work item's run leaves to its loop.</summary>
internal enum LeaseAfterRun
{
    /// <summary>The item is still leased to this node: the loop releases it.</summary>
    Held,

    /// <summary>The run's last write gave the lease up with the item's new state: there is nothing to release.</summary>
    GivenUp,
}

/// <summary>This node's lease on a work item ran out and another node claimed it: the item is no longer this node's to change.</summary>
internal sealed class WorkLeaseLostException(string id) : Exception($"Work item {id} is leased by another node.");
