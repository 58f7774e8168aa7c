namespace Inlet.Storage;

/// <summary>
/// The whole durable state, one store per aggregate. The engine's parts each take the store they need; only the
/// composition root holds this. The embedded implementation is SQLite; PostgreSQL takes its place for several nodes.
/// </summary>
internal interface IStateStore : IMessageStore, IInvocationStore, IDeliveryStore, IOutboxStore, ITopicStore,
    IIdentityStore, IFunctionDefinitionStore, IConfigurationVersionStore, IChangeFeed, IAsyncDisposable
{
    /// <summary>Creates or migrates the schema, and releases the leases of this node's earlier runs.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);
}
