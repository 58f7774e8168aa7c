using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Inlet.Functions;

/// <summary>
/// The Lambda Runtime API endpoint of one execution environment: a Kestrel listener of its own on a loopback
/// port, so that every request is tied to the one process that owns the environment. Kestrel is used directly,
/// without a host, which keeps an environment's start cheap.
/// </summary>
internal sealed class RuntimeApiServer : IAsyncDisposable
{
    private static readonly IServiceProvider s_services = new ServiceCollection().BuildServiceProvider();

    private readonly KestrelServer _server;

    private RuntimeApiServer(KestrelServer server, IPEndPoint endPoint)
    {
        _server = server;
        EndPoint = endPoint;
    }

    public IPEndPoint EndPoint { get; }

    public static async Task<RuntimeApiServer> StartAsync(RequestDelegate handler, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var options = new KestrelServerOptions { AddServerHeader = false, ApplicationServices = s_services };
        // The runtime long-polls /next; the body limits are checked by the handler, with Lambda's error documents.
        options.Limits.MaxRequestBodySize = null;
        options.Limits.KeepAliveTimeout = TimeSpan.FromDays(1);
        ListenOptions? listen = null;
        options.Listen(IPAddress.Loopback, 0, l => listen = l);
        var transport = new SocketTransportFactory(Options.Create(new SocketTransportOptions()), loggerFactory);
        var server = new KestrelServer(Options.Create(options), transport, loggerFactory);
        await server.StartAsync(new Application(handler), cancellationToken);
        return new RuntimeApiServer(server, (IPEndPoint)listen!.EndPoint);
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await _server.StopAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            // Open long polls are aborted; nothing to wait for.
        }

        _server.Dispose();
    }

    private sealed class Application(RequestDelegate handler) : IHttpApplication<HttpContext>
    {
        public HttpContext CreateContext(IFeatureCollection contextFeatures) => new DefaultHttpContext(contextFeatures);

        public Task ProcessRequestAsync(HttpContext context) => handler(context);

        public void DisposeContext(HttpContext context, Exception? exception)
        {
        }
    }
}
