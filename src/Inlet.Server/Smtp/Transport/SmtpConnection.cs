using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Authentication;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Inlet.Smtp.Transport;

/// <summary>
/// The I/O loop of one SMTP session: reads command lines and message data from the connection's pipe, hands
/// commands to <see cref="SmtpSession"/>, and writes its replies. Replies to pipelined commands are written as a
/// batch, flushed whenever the loop is about to wait for input (RFC 2920 §3.1).
/// Time is enforced by deadlines, never by idle timers that a byte resets: a command line must be complete within
/// <see cref="SmtpOptions.CommandTimeout"/>, message data must keep <see cref="SmtpOptions.MinDataRate"/> on average,
/// and a session ends after <see cref="SmtpOptions.MaxSessionTime"/>. A watchdog wakes the pending read
/// (<see cref="PipeReader.CancelPendingRead"/>) so that the deadlines are checked while the client sends nothing.
/// </summary>
internal sealed class SmtpConnection : IAsyncDisposable
{
    private static readonly TimeSpan s_tlsHandshakeTimeout = TimeSpan.FromSeconds(30);

    private readonly ConnectionContext _connection;
    private readonly SmtpSession _session;
    private readonly SmtpOptions _options;
    private readonly ISmtpBackend _backend;
    private readonly SmtpTlsContext _tls;
    private readonly CancellationToken _stopping;
    private readonly ILogger _logger;
    private readonly SmtpSlot? _slot;
    private readonly long _sessionDeadline;
    private readonly Timer _watchdog;
    private long _commandDeadline;
    private long _linesHandled;
    private volatile PipeReader _input;
    private PipeWriter _output;
    private SslStream? _ssl;
    private bool _discardingLine;
    private bool _writeFailed;

    // A BDAT transaction spans several commands; its spool entry and decoder live here between chunks.
    private ISmtpMessageWriter? _chunkWriter;
    private MessageDataDecoder? _chunkDecoder;
    private DateTimeOffset _chunkReceivedAt;

    public SmtpConnection(ConnectionContext connection, SmtpSession session, SmtpOptions options, ISmtpBackend backend, SmtpTlsContext tls, CancellationToken stopping, ILogger logger, SmtpSlot? slot = null)
    {
        _slot = slot;
        _sessionDeadline = Environment.TickCount64 + (long)Math.Min(options.MaxSessionTime.TotalMilliseconds, long.MaxValue / 4);
        _connection = connection;
        _session = session;
        _options = options;
        _backend = backend;
        _tls = tls;
        _stopping = stopping;
        _logger = logger;
        _input = connection.Transport.Input;
        _output = connection.Transport.Output;
        var shortest = new[] { options.CommandTimeout, options.DataTimeout, options.MinDataRateGracePeriod, options.MaxSessionTime }.Min() / 4;
        var interval = TimeSpan.FromMilliseconds(Math.Clamp(shortest.TotalMilliseconds, 50, 500));
        _watchdog = new Timer(static state => ((SmtpConnection)state!).Wake(), this, interval, interval);
        if (slot is not null)
        {
            slot.OnEvicted = Wake;
        }
    }

    private void Wake()
    {
        try
        {
            _input.CancelPendingRead();
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            // The reader is already complete: the connection is ending.
        }
    }

    private void ResetCommandDeadline() =>
        _commandDeadline = Environment.TickCount64 + (long)Math.Min(_options.CommandTimeout.TotalMilliseconds, long.MaxValue / 4);

    /// <summary>The 421 that ends a session waiting for a command, if one of its limits has passed.</summary>
    private SmtpReply? CheckCommandLimits()
    {
        var now = Environment.TickCount64;
        return _slot is { Evicted: true } ? SmtpReply.Reclaimed
            : now >= _sessionDeadline ? SmtpReply.SessionTooLong
            : now >= _commandDeadline ? SmtpReply.CommandTooSlow
            : null;
    }

    private enum Outcome
    {
        /// <summary>All complete lines handled; wait for more input.</summary>
        NeedInput,

        /// <summary>The reader was advanced by a data or TLS phase; read afresh.</summary>
        Restart,

        Close,
    }

    public async Task RunAsync()
    {
        await ReplyAndFlushAsync(_session.Greeting);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_stopping, _connection.ConnectionClosed);
        ResetCommandDeadline();
        while (true)
        {
            if (CheckCommandLimits() is { } limit)
            {
                SmtpLog.LimitReached(_logger, _connection.ConnectionId, limit);
                await ReplyAndCloseAsync(limit);
                return;
            }

            ReadResult result;
            try
            {
                result = await _input.ReadAsync(linked.Token);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                await ReplyAndCloseAsync(SmtpReply.ShuttingDown);
                return;
            }

            if (result.IsCanceled)
            {
                // The watchdog: nothing consumed, the deadlines are checked at the top.
                _input.AdvanceTo(result.Buffer.Start);
                continue;
            }

            var handled = _linesHandled;
            var outcome = await HandleInputAsync(result);
            if (outcome == Outcome.Restart || _linesHandled != handled)
            {
                ResetCommandDeadline();
                _slot?.Progress();
            }

            if (outcome == Outcome.Close)
            {
                await _output.FlushAsync(_connection.ConnectionClosed);
                return;
            }

            if (outcome == Outcome.NeedInput && result.IsCompleted)
            {
                return;
            }

            await _output.FlushAsync(_connection.ConnectionClosed);
            if (_stopping.IsCancellationRequested && _session.State != SmtpState.Bdat)
            {
                await ReplyAndFlushAsync(SmtpReply.ShuttingDown);
                return;
            }
        }
    }

    /// <summary>A last reply to a client that may not be reading: written with a bounded wait, then the connection ends.</summary>
    private async ValueTask ReplyAndCloseAsync(SmtpReply reply)
    {
        reply.WriteTo(_output);
        using var flush = CancellationTokenSource.CreateLinkedTokenSource(_connection.ConnectionClosed);
        flush.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            await _output.FlushAsync(flush.Token);
        }
        catch (OperationCanceledException) when (flush.IsCancellationRequested && !_connection.ConnectionClosed.IsCancellationRequested)
        {
            _connection.Abort(new ConnectionAbortedException("The client did not read the closing reply"));
        }
    }

    private async ValueTask<Outcome> HandleInputAsync(ReadResult result)
    {
        var buffer = result.Buffer;
        while (true)
        {
            if (_discardingLine)
            {
                _discardingLine = !SmtpLineReader.TrySkipLine(buffer, out var skipped);
                buffer = buffer.Slice(skipped);
                if (_discardingLine)
                {
                    break;
                }
            }

            var status = SmtpLineReader.TryReadLine(buffer, _options.MaxCommandLineLength, out var line, out var consumed);
            if (status == LineStatus.NeedMore)
            {
                break;
            }

            SmtpStep step;
            if (status == LineStatus.TooLong)
            {
                _discardingLine = true;
                step = _session.Strike(new SmtpStep(SmtpReply.LineTooLong));
            }
            else
            {
                buffer = buffer.Slice(consumed);
                _linesHandled++;
                step = _session.Handle(SmtpCommandParser.Parse(line));
            }

            if (step.Next == SmtpNext.StartTls && !buffer.IsEmpty)
            {
                // Plaintext sent after STARTTLS would be taken as if it came over TLS (CVE-2011-0411): refuse, close,
                // and never run it.
                SmtpLog.PipelinedAfterStartTls(_logger, _connection.ConnectionId);
                SmtpReply.PipelinedAfterStartTls.WriteTo(_output);
                _input.AdvanceTo(buffer.End);
                return Outcome.Close;
            }

            step.Reply?.WriteTo(_output);

            switch (step.Next)
            {
                case SmtpNext.Close:
                    _input.AdvanceTo(buffer.Start);
                    return Outcome.Close;

                case SmtpNext.StartTls:
                    _input.AdvanceTo(buffer.Start);
                    await _output.FlushAsync(_connection.ConnectionClosed);
                    return await StartTlsAsync() ? Outcome.Restart : Outcome.Close;

                case SmtpNext.ReceiveData:
                    _input.AdvanceTo(buffer.Start);
                    await _output.FlushAsync(_connection.ConnectionClosed);
                    return await ReceiveDataAsync() ? Outcome.Restart : Outcome.Close;

                case SmtpNext.ReceiveChunk:
                case SmtpNext.DiscardChunk:
                    _input.AdvanceTo(buffer.Start);
                    return await ReceiveChunkAsync(step) ? Outcome.Restart : Outcome.Close;
            }

            await DropAbandonedChunkWriterAsync();
        }

        _input.AdvanceTo(buffer.Start, buffer.End);
        return Outcome.NeedInput;
    }

    private async ValueTask<bool> StartTlsAsync()
    {
        var stream = new DuplexPipeStream(_connection.Transport.Input, _connection.Transport.Output);
        var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
        using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_connection.ConnectionClosed);
        handshake.CancelAfter(s_tlsHandshakeTimeout);
        try
        {
            await ssl.AuthenticateAsServerAsync(
                new SslServerAuthenticationOptions { ServerCertificateContext = _tls.Certificate, ClientCertificateRequired = false },
                handshake.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or AuthenticationException)
        {
            SmtpLog.TlsFailed(_logger, _connection.ConnectionId, e);
            await ssl.DisposeAsync();
            return false;
        }

        _ssl = ssl;
        _input = PipeReader.Create(ssl, new StreamPipeReaderOptions(leaveOpen: true));
        _output = PipeWriter.Create(ssl, new StreamPipeWriterOptions(leaveOpen: true));
        _session.OnTlsEstablished(ssl.SslProtocol.ToString());
        return true;
    }

    private async ValueTask<bool> ReceiveDataAsync()
    {
        var receivedAt = DateTimeOffset.UtcNow;
        var decoder = new MessageDataDecoder(dotStuffed: true, _options.MaxMessageSize, _options.MaxLineLength, _options.MaxHeaderSize);
        ISmtpMessageWriter? writer = null;
        SmtpReply? beginFailure = null;
        try
        {
            writer = await _backend.BeginMessageAsync(_connection.ConnectionClosed);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The data must still be read to its end, or it would be taken for commands.
            SmtpLog.StoreFailed(_logger, _connection.ConnectionId, e);
            beginFailure = StorageReply(e);
        }

        await using (writer)
        {
            if (!await DecodeAsync(writer, decoder, long.MaxValue))
            {
                return false;
            }

            var reply = writer is null ? beginFailure! : await FinishMessageAsync(writer, decoder, receivedAt);
            await ReplyAndFlushAsync(reply);
            _session.CompleteTransaction();
            return true;
        }
    }

    private async ValueTask<bool> ReceiveChunkAsync(SmtpStep step)
    {
        if (step.Next == SmtpNext.DiscardChunk)
        {
            var skip = new MessageDataDecoder(dotStuffed: false, 0, int.MaxValue, int.MaxValue);
            return await DecodeAsync(null, skip, step.ChunkSize) && await FlushAsync();
        }

        if (_chunkWriter is null || _chunkDecoder is null)
        {
            _chunkDecoder = new MessageDataDecoder(dotStuffed: false, _options.MaxMessageSize, _options.MaxLineLength, _options.MaxHeaderSize);
            _chunkReceivedAt = DateTimeOffset.UtcNow;
            try
            {
                _chunkWriter = await _backend.BeginMessageAsync(_connection.ConnectionClosed);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                SmtpLog.StoreFailed(_logger, _connection.ConnectionId, e);
                var skip = new MessageDataDecoder(dotStuffed: false, 0, int.MaxValue, int.MaxValue);
                var read = await DecodeAsync(null, skip, step.ChunkSize);
                _session.CompleteTransaction();
                return read && await ReplyAndFlushAsync(StorageReply(e));
            }
        }

        var decoder = _chunkDecoder;
        if (!await DecodeAsync(_chunkWriter, decoder, step.ChunkSize))
        {
            return false;
        }

        if (!step.LastChunk && decoder.Faults == DataFaults.None)
        {
            return await ReplyAndFlushAsync(new SmtpReply(250, "2.0.0", $"{step.ChunkSize} octets received"));
        }

        decoder.Finish();
        var writer = _chunkWriter;
        _chunkWriter = null;
        _chunkDecoder = null;
        await using (writer)
        {
            var reply = await FinishMessageAsync(writer, decoder, _chunkReceivedAt);
            _session.CompleteTransaction();
            return await ReplyAndFlushAsync(reply);
        }
    }

    /// <summary>
    /// Streams message data through the decoder into the spool: to the DATA terminator, or exactly
    /// <paramref name="chunkSize"/> octets of a BDAT chunk. Returns false when the connection ended first.
    /// </summary>
    private async ValueTask<bool> DecodeAsync(ISmtpMessageWriter? writer, MessageDataDecoder decoder, long chunkSize)
    {
        var chunked = chunkSize != long.MaxValue;
        var remaining = chunkSize;
        var output = ArrayPool<byte>.Shared.Rent(64 * 1024);
        var started = Environment.TickCount64;
        var lastData = started;
        long received = 0;
        try
        {
            while (!chunked || remaining > 0)
            {
                var now = Environment.TickCount64;
                var elapsed = (now - started) / 1000.0;
                var limit = _slot is { Evicted: true } ? SmtpReply.Reclaimed
                    : now >= _sessionDeadline ? SmtpReply.SessionTooLong
                    : now - lastData >= _options.DataTimeout.TotalMilliseconds ? SmtpReply.IdleTimeout
                    : _options.MinDataRate > 0 && elapsed > _options.MinDataRateGracePeriod.TotalSeconds && received / elapsed < _options.MinDataRate ? SmtpReply.DataTooSlow
                    : null;
                if (limit is not null)
                {
                    SmtpLog.LimitReached(_logger, _connection.ConnectionId, limit);
                    await ReplyAndCloseAsync(limit);
                    return false;
                }

                var result = await _input.ReadAsync(_connection.ConnectionClosed);
                if (result.IsCanceled)
                {
                    _input.AdvanceTo(result.Buffer.Start);
                    continue;
                }

                var buffer = result.Buffer;
                if (chunked && buffer.Length > remaining)
                {
                    buffer = buffer.Slice(0, remaining);
                }

                var done = false;
                long used = 0;
                foreach (var segment in buffer)
                {
                    var offset = 0;
                    while (offset < segment.Length)
                    {
                        var status = decoder.Decode(segment.Span[offset..], output, out var consumed, out var written);
                        offset += consumed;
                        if (written > 0 && writer is not null && !_writeFailed)
                        {
                            try
                            {
                                await writer.WriteAsync(output.AsMemory(0, written), _connection.ConnectionClosed);
                            }
                            catch (IOException e)
                            {
                                // A full disk: the rest of the data is read and dropped, and the client gets 452.
                                SmtpLog.StoreFailed(_logger, _connection.ConnectionId, e);
                                _writeFailed = true;
                            }
                        }

                        if (status == OperationStatus.Done)
                        {
                            done = true;
                            break;
                        }
                    }

                    used += offset;
                    if (done)
                    {
                        break;
                    }
                }

                _input.AdvanceTo(buffer.GetPosition(used));
                remaining -= used;
                if (used > 0)
                {
                    received += used;
                    lastData = Environment.TickCount64;
                    _slot?.Progress();
                }

                if (done)
                {
                    return true;
                }

                if (result.IsCompleted)
                {
                    return false;
                }
            }

            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(output);
        }
    }

    private async ValueTask<SmtpReply> FinishMessageAsync(ISmtpMessageWriter writer, MessageDataDecoder decoder, DateTimeOffset receivedAt)
    {
        var envelope = _session.CreateEnvelope(receivedAt);
        var faults = decoder.Faults;
        SmtpReply reply;
        if (_writeFailed)
        {
            _writeFailed = false;
            reply = SmtpReply.InsufficientStorage;
        }
        else if (faults.HasFlag(DataFaults.TooLarge))
        {
            reply = SmtpReply.MessageTooLarge(_options.MaxMessageSize);
        }
        else if (faults.HasFlag(DataFaults.BareLineEnding))
        {
            reply = SmtpReply.BareLineEnding;
        }
        else if (faults.HasFlag(DataFaults.HeaderTooLarge))
        {
            reply = SmtpReply.HeaderTooLarge(_options.MaxHeaderSize);
        }
        else if (faults.HasFlag(DataFaults.LineTooLong))
        {
            reply = SmtpReply.DataLineTooLong(_options.MaxLineLength);
        }
        else
        {
            if (_slot is not null)
            {
                _slot.Busy = true;
            }

            try
            {
                reply = await writer.CommitAsync(envelope, _connection.ConnectionClosed);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                SmtpLog.StoreFailed(_logger, _connection.ConnectionId, e);
                reply = StorageReply(e);
            }
            finally
            {
                if (_slot is not null)
                {
                    _slot.Busy = false;
                    _slot.Progress();
                }
            }
        }

        SmtpLog.MessageReplied(_logger, reply, envelope.MailFrom, envelope.Recipients.Count, decoder.Size);
        return reply;
    }

    /// <summary>A spool that cannot be written (a full disk above all) is 452 4.3.1 (RFC 3463); anything else is 451 4.3.0.</summary>
    private static SmtpReply StorageReply(Exception e) => e is IOException ? SmtpReply.InsufficientStorage : SmtpReply.LocalError;

    /// <summary>A BDAT transaction ended by RSET, EHLO or a refusal leaves its spool entry behind: discard it.</summary>
    private async ValueTask DropAbandonedChunkWriterAsync()
    {
        if (_chunkWriter is not null && _session.State != SmtpState.Bdat)
        {
            await _chunkWriter.DisposeAsync();
            _chunkWriter = null;
            _chunkDecoder = null;
        }
    }

    private async ValueTask<bool> ReplyAndFlushAsync(SmtpReply reply)
    {
        reply.WriteTo(_output);
        return await FlushAsync();
    }

    private async ValueTask<bool> FlushAsync()
    {
        var flush = await _output.FlushAsync(_connection.ConnectionClosed);
        return !flush.IsCompleted;
    }

    public async ValueTask DisposeAsync()
    {
        await _watchdog.DisposeAsync();
        if (_chunkWriter is not null)
        {
            await _chunkWriter.DisposeAsync();
        }

        if (_ssl is not null)
        {
            await _input.CompleteAsync();
            await _output.CompleteAsync();
            await _ssl.DisposeAsync();
        }
    }
}
