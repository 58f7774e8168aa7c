
namespace Inlet.Rules;

/// <summary>
/// Holds the receipt configuration in force. Readers take the whole snapshot at once, so a message sees one
/// consistent version from RCPT to the end of its processing.
/// </summary>
internal sealed class ReceiptConfigurationProvider
{
    private volatile Snapshot _current;

    public ReceiptConfigurationProvider(ReceiptConfiguration configuration)
    {
        _current = new Snapshot(configuration, new IpFilterSet(configuration.Filters));
    }

    public sealed record Snapshot(ReceiptConfiguration Configuration, IpFilterSet Filters);

    public Snapshot Current => _current;

    public void Update(ReceiptConfiguration configuration) =>
        _current = new Snapshot(configuration, new IpFilterSet(configuration.Filters));
}
