using System.Net;
using System.Net.Security;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Inlet.Smtp.Transport;

/// <summary>The server certificate offered by STARTTLS, if any.</summary>
internal sealed record SmtpTlsContext(SslStreamCertificateContext? Certificate);

/// <summary>Kestrel's entry point for SMTP connections: limits, the connect-time policy, then the session.</summary>
internal sealed class SmtpConnectionHandler(
    SmtpOptions options,
    ISmtpBackend backend,
    SmtpTlsContext tls,
    SmtpConnectionLimiter limiter,
    IHostApplicationLifetime lifetime,
    ILogger<SmtpConnectionHandler> logger) : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var remote = connection.RemoteEndPoint as IPEndPoint;
        var client = remote?.Address is { IsIPv4MappedToIPv6: true } mapped ? mapped.MapToIPv4() : remote?.Address;
        SmtpLog.Connected(logger, connection.ConnectionId, remote);

        var refusal = limiter.TryAcquire(client, out var slot);
        if (refusal is not null)
        {
            await RefuseAsync(connection, refusal);
            return;
        }

        try
        {
            refusal = lifetime.ApplicationStopping.IsCancellationRequested ? SmtpReply.ShuttingDown : backend.CheckClient(remote);
            if (refusal is not null)
            {
                await RefuseAsync(connection, refusal);
                return;
            }

            var session = new SmtpSession(options, backend, remote, tls.Certificate is not null);
            await using var smtp = new SmtpConnection(connection, session, options, backend, tls, lifetime.ApplicationStopping, logger, slot);
            await smtp.RunAsync();
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or OperationCanceledException or ObjectDisposedException)
        {
            SmtpLog.TransportClosed(logger, connection.ConnectionId, e);
        }
        catch (Exception e)
        {
            // A broken session never takes the host down.
            SmtpLog.ConnectionFailed(logger, connection.ConnectionId, e);
        }
        finally
        {
            slot!.Dispose();
        }
    }

    private async Task RefuseAsync(ConnectionContext connection, SmtpReply reply)
    {
        SmtpLog.Refused(logger, connection.ConnectionId, connection.RemoteEndPoint, reply);
        try
        {
            reply.WriteTo(connection.Transport.Output);
            await connection.Transport.Output.FlushAsync(connection.ConnectionClosed);
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or OperationCanceledException)
        {
            SmtpLog.TransportClosed(logger, connection.ConnectionId, e);
        }
    }
}
