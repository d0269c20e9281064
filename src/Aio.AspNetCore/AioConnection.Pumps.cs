using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Aio.AspNetCore;

/// <summary>
/// The two pumps. Both start on the loop and stay there: socket completions continue inline on the loop, and the
/// transport's pipe ends are scheduled on the loop (<see cref="ConnectionSchedulers"/>).
/// </summary>
internal sealed partial class AioConnection
{
    private async Task ReceivePumpAsync()
    {
        Exception? error = null;
        ConnectionAbortedException? loopStopped = null;
        var writer = _input.Writer;
        try
        {
            while (true)
            {
                if (_waitForData)
                {
                    // Zero bytes: returns when data is there (at once if some is queued) or at the end of the stream,
                    // whose 0 the receive below then reports; no pool block is held while the connection is idle.
                    await _socket.ReceiveAsync(Memory<byte>.Empty).ConfigureAwait(false);
                }

                var memory = writer.GetMemory(MinAllocBufferSize);
                int received = await _socket.ReceiveAsync(memory).ConfigureAwait(false);
                if (received == 0)
                {
                    // The peer's FIN.
                    break;
                }

                writer.Advance(received);

                // Above the pause threshold this waits: the socket is not read, and TCP's window pushes back on the peer.
                var flush = await writer.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown)
        {
            // The peer reset: Kestrel logs it at Debug through the exception type.
            error = new ConnectionResetException(ex.Message, ex);
            Log.ConnectionReset(_logger, ConnectionId);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.OperationAborted || _shutdownReason is not null)
        {
            // Our own Abort or shutdown ended the receive.
        }
        catch (ObjectDisposedException ex) when (_shutdownReason is null)
        {
            // Not our close: the loop was disposed under the connection (its group stopped). An abort, not an end of
            // stream: Kestrel must not take what it read for the whole request, and the peer gets a reset (below) rather
            // than a connection that stays open with nobody serving it.
            loopStopped = new ConnectionAbortedException("The connection's loop was stopped.", ex);
            error = loopStopped;
        }
        catch (ObjectDisposedException)
        {
            // Closed under the pump by a graceful shutdown.
        }
        catch (Exception ex)
        {
            // Neither a reset nor our own ending (a keep-alive or user timeout, ETIMEDOUT): Kestrel sees it as an
            // IOException, and it is logged at Debug as Sockets logs it.
            error = new IOException(ex.Message, ex);
            Log.ConnectionError(_logger, ex, ConnectionId);
        }
        finally
        {
            if (loopStopped is not null)
            {
                Abort(loopStopped);
            }

            _input.Writer.Complete(_shutdownReason ?? error);
            var close = CloseAfterReceive();

            // This end before the callbacks are queued: their work item, which may run at once, is then the last end
            // (or the send pump's), never this one, so DisposeAsync resumes inside it without a work item of its own.
            EndOne(inlineOnPool: false);
            FireConnectionClosed(after: close);
        }
    }

    private async Task SendPumpAsync()
    {
        // error: why the socket is reset (null: FIN). unexpected: what Kestrel's side of the output sees, only for an
        // error that is neither the peer's reset nor our own abort: a reset must not make Kestrel's pending or next
        // flush throw (it logs that as an unexpected error), its writes complete instead.
        Exception? error = null;
        Exception? unexpected = null;
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled)
                {
                    // Abort cancels the pending read.
                    break;
                }

                // AioSocket takes the sequence whole: one SEND for a single segment, one SENDMSG with an iovec per
                // segment otherwise, nothing for an empty one. The last data (Kestrel completed the output with it, as
                // after a Connection: close response) goes with MSG_MORE: the shutdown right after (finally) then puts
                // its FIN into the data's last segment, one segment fewer for both ends of every closed connection.
                var buffer = result.Buffer;
                await _socket.SendAsync(buffer, more: result.IsCompleted).ConfigureAwait(false);

                reader.AdvanceTo(buffer.End);
                _outputBlocks?.Drained();
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown)
        {
            error = new ConnectionResetException(ex.Message, ex);
            Log.ConnectionReset(_logger, ConnectionId);
        }
        catch (SocketException) when (_shutdownReason is not null)
        {
        }
        catch (ObjectDisposedException ex) when (_shutdownReason is null)
        {
            // The loop was disposed under the connection: reset (RST), not a FIN after a possibly cut-short response.
            error = new ConnectionAbortedException("The connection's loop was stopped.", ex);
        }
        catch (ObjectDisposedException)
        {
        }
        catch (Exception ex)
        {
            error = ex;
            unexpected = ex;
            Log.ConnectionError(_logger, ex, ConnectionId);
        }
        finally
        {
            // Graceful when Kestrel completed the output without error: FIN. Otherwise RST.
            Shutdown(error);
            _output.Reader.Complete(unexpected);

            // A receive pump waiting for Kestrel to read its input (above the pause threshold) ends now too: after an
            // abort or a failed send nothing more is read, and the input completes with the reason, which fires
            // ConnectionClosed without waiting for DisposeAsync.
            _input.Writer.CancelPendingFlush();
            EndOne(inlineOnPool: false);
        }
    }
}
