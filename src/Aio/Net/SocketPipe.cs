using System.IO.Pipelines;

namespace Aio.Net;

/// <summary>
/// <see cref="AioSocket.AsPipe"/>: two pumps between the socket and a pair of pipes. The receive pump fills the input
/// pipe and stops reading the socket while the pipe is above its pause threshold (backpressure to the peer through
/// TCP's window); the send pump drains the output pipe, one gathered send per read. When the application completes
/// the output, the socket's sending side is shut down (FIN); when it completes it with an exception, or a send fails,
/// the connection is reset (RST); when both pumps have ended, the socket is disposed.
/// </summary>
internal sealed class SocketPipe : IDuplexPipe
{
    private readonly AioSocket _socket;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly SocketPipeReader _reader;
    // Cancelled when the application completes the input: the receive pump then stops waiting for the peer.
    private readonly CancellationTokenSource _inputDone = new();
    private int _pumpsLeft = 2;

    private SocketPipe(AioSocket socket, PipeOptions receiveOptions, PipeOptions sendOptions)
    {
        _socket = socket;
        _input = new Pipe(receiveOptions);
        _output = new Pipe(sendOptions);
        _reader = new SocketPipeReader(_input.Reader, OnInputCompleted);
    }

    public PipeReader Input => _reader;

    public PipeWriter Output => _output.Writer;

    public static SocketPipe Start(AioSocket socket, PipeOptions receiveOptions, PipeOptions sendOptions)
    {
        var pipe = new SocketPipe(socket, receiveOptions, sendOptions);
        _ = pipe.ReceivePumpAsync();
        _ = pipe.SendPumpAsync();
        return pipe;
    }

    private async Task ReceivePumpAsync()
    {
        Exception? error = null;
        var writer = _input.Writer;
        try
        {
            while (true)
            {
                var memory = writer.GetMemory();
                int received = await _socket.ReceiveAsync(memory, _inputDone.Token).ConfigureAwait(false);
                if (received == 0)
                {
                    break;
                }

                writer.Advance(received);
                var flush = await writer.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (ObjectDisposedException)
        {
            // The socket was closed under the pump: the input simply ends.
        }
        catch (OperationCanceledException) when (_inputDone.IsCancellationRequested)
        {
            // The application completed the input: nobody reads any more.
        }
        catch (Exception ex)
        {
            error = ex;
        }
        finally
        {
            await writer.CompleteAsync(error).ConfigureAwait(false);
            await PumpEndedAsync().ConfigureAwait(false);
        }
    }

    private async Task SendPumpAsync()
    {
        Exception? error = null;
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled)
                {
                    break;
                }

                // Data that comes with the writer's completion goes with MSG_MORE: the shutdown below then puts the
                // FIN into its last segment.
                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    await _socket.SendAsync(buffer, more: result.IsCompleted).ConfigureAwait(false);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }

            _socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        }
        catch (ObjectDisposedException)
        {
        }
        catch (Exception ex)
        {
            // The application failed its output (the read rethrows its exception) or a send failed: what the peer got
            // may be a message cut short, so it must not see an orderly end (a FIN, here or when both pumps end and the
            // socket is disposed) after it. A reset, as Kestrel's transports give a failed output.
            error = ex;
            _socket.Abort();
        }
        finally
        {
            await reader.CompleteAsync(error).ConfigureAwait(false);
            await PumpEndedAsync().ConfigureAwait(false);
        }
    }

    // The source is never disposed: it has no timer, and a Cancel racing a Dispose is not allowed.
    private void OnInputCompleted() => _inputDone.Cancel();

    private async ValueTask PumpEndedAsync()
    {
        if (Interlocked.Decrement(ref _pumpsLeft) == 0)
        {
            await _socket.DisposeAsync().ConfigureAwait(false);
        }
    }
}
