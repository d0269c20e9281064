using System.Runtime.CompilerServices;
using System.Net.Sockets;

namespace Aio.Net;

/// <summary>
/// <see cref="AioSocket.AsStream"/>: a <see cref="Stream"/> that behaves like <see cref="NetworkStream"/> (socket
/// errors surface as <see cref="IOException"/> wrapping the <see cref="SocketException"/>; 0 from a read is the end of
/// the stream), so <c>SslStream</c>, <c>StreamReader</c> and <c>CopyToAsync</c> work over the loop's sockets.
/// </summary>
/// <remarks>
/// The synchronous <see cref="Read(Span{byte})"/> and <see cref="Write(ReadOnlySpan{byte})"/> block the calling
/// thread until the loop has done the work; on the socket's own loop thread they would wait for themselves, so there
/// they throw <see cref="InvalidOperationException"/>.
/// </remarks>
internal sealed class AioSocketStream : Stream
{
    private readonly AioSocket _socket;
    private int _disposed;

    public AioSocketStream(AioSocket socket) => _socket = socket;

    public override bool CanRead => Volatile.Read(ref _disposed) == 0;

    public override bool CanWrite => Volatile.Read(ref _disposed) == 0;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ValueTask<int> pending;
        try
        {
            pending = _socket.ReceiveAsync(buffer, cancellationToken);
        }
        catch (SocketException ex)
        {
            throw Wrap(ex, "read from");
        }

        return pending.IsCompletedSuccessfully ? pending : AwaitRead(pending);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ValueTask<int> pending;
        try
        {
            pending = _socket.SendAsync(buffer, cancellationToken);
        }
        catch (SocketException ex)
        {
            throw Wrap(ex, "write to");
        }

        if (pending.IsCompletedSuccessfully)
        {
            // Consume the result: that is what frees the socket's send for the next write.
            _ = pending.Result;
            return default;
        }

        return AwaitWrite(pending);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        return Read(buffer.AsSpan(offset, count));
    }

    public override int Read(Span<byte> buffer)
    {
        ThrowIfOnLoop();
        byte[] rented = System.Buffers.ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            int n = ReadAsync(rented.AsMemory(0, buffer.Length)).AsTask().GetAwaiter().GetResult();
            rented.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        ThrowIfOnLoop();
        WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ThrowIfOnLoop();
        byte[] copy = buffer.ToArray();
        WriteAsync(copy).AsTask().GetAwaiter().GetResult();
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _socket.DisposeAsync().ConfigureAwait(false);
        }

        GC.SuppressFinalize(this);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _socket.Dispose();
        }

        base.Dispose(disposing);
    }

    // Pooling builders: their ValueTasks are IValueTaskSource-backed, so an awaiter on the loop that used
    // ConfigureAwait(false) (SslStream awaits its inner stream so) continues inline there when the operation completes.
    // A Task-backed one would go to the thread pool instead (a Task runs a context-free continuation inline only where
    // no SynchronizationContext is installed, and the loop has one): a pool round trip per read and write of TLS.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<int> AwaitRead(ValueTask<int> pending)
    {
        try
        {
            return await pending.ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw Wrap(ex, "read from");
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask AwaitWrite(ValueTask<int> pending)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw Wrap(ex, "write to");
        }
    }

    private static IOException Wrap(SocketException ex, string what)
        => new($"Unable to {what} the transport connection: {ex.Message}", ex);

    private void ThrowIfOnLoop()
    {
        if (_socket.Context.IsOnHomeThread)
        {
            throw new InvalidOperationException("A synchronous Read or Write on the socket's own loop thread would wait for itself; use ReadAsync/WriteAsync there.");
        }
    }
}
