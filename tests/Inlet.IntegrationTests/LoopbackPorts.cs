using System.Net;
using System.Net.Sockets;

namespace Inlet.IntegrationTests;

/// <summary>Ports for programs that must be told theirs before they start (a child process, a daemon, a second node).</summary>
internal static class LoopbackPorts
{
    /// <summary>A loopback port that was free a moment ago; whoever binds it next gets it, so bind it at once.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
