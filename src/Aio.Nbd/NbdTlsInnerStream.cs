using System.Buffers;
using System.Runtime.CompilerServices;
using Aio.Net;

namespace Aio.Nbd;

/// <summary>
/// The stream under a connection's <see cref="System.Net.Security.SslStream"/>. Reads go to the socket. Writes go
/// straight to it during the handshake; after it (<see cref="StartCollecting"/>) they are collected and sent by
/// <see cref="FlushCollectedAsync"/>, all the records of a batch of replies in one send.
/// </summary>
/// <remarks>
/// Why collect: SslStream finishes a write at once when its inner write did, but resumes one that had to wait for the
/// socket through the thread pool, because its internal awaits are Task-based and a Task runs a context-free
/// continuation inline only on a thread without a SynchronizationContext (the loop has one). Written through, every
/// TLS record of every reply cost a pool round trip and a send of its own; collected, a batch costs one send and no
/// hop. A record SslStream writes while reading (a TLS 1.3 key update, say) waits for the next batch's send; TLS lets
/// it. Not thread-safe: the connection's loop runs every call, and the reply pump is the only flusher.
/// </remarks>
internal sealed class NbdTlsInnerStream : Stream
{
    // Past this much, a write sends what was collected first (then SslStream's write waits for the socket).
    internal const int CollectLimit = 256 * 1024;

    // The collect buffer a connection keeps between batches; a batch that grew it past this gives the larger one back.
    private const int KeptBufferSize = 64 * 1024;

    private readonly AioSocket _socket;
    private readonly Stream _direct;
    private byte[] _collected = [];
    private int _length;
    private bool _collecting;
    private bool _flushing;

    public NbdTlsInnerStream(AioSocket socket)
    {
        _socket = socket;
        _direct = socket.AsStream();
    }

    /// <summary>Bytes written and not sent yet (for tests).</summary>
    internal int Collected => _length;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>The handshake is done: from now on writes are collected until <see cref="FlushCollectedAsync"/>.</summary>
    public void StartCollecting() => _collecting = true;

    /// <summary>Sends what was collected, in order, in as few sends as its size allows.</summary>
    /// <exception cref="InvalidOperationException">Another flush is in progress (the records would leave out of order).</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask FlushCollectedAsync(CancellationToken ct)
    {
        if (_flushing)
        {
            throw new InvalidOperationException("A flush of the TLS records is already in progress.");
        }

        _flushing = true;
        try
        {
            while (_length > 0)
            {
                // Swapped out before the await: a record written meanwhile goes into a fresh buffer, after these.
                byte[] sending = _collected;
                int length = _length;
                _collected = [];
                _length = 0;
                try
                {
                    await _socket.SendAsync(sending.AsMemory(0, length), ct).ConfigureAwait(true);
                }
                catch (ObjectDisposedException)
                {
                    // The socket (or its loop) closed under the send: the kernel may not have let go of the array
                    // yet. Left to the GC rather than handed to the pool, where another connection could fill it
                    // while the kernel still sends from it.
                    throw;
                }
                catch
                {
                    Recycle(sending);
                    throw;
                }

                Recycle(sending);
            }
        }
        finally
        {
            _flushing = false;
        }
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => _direct.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => _direct.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => _direct.Read(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_collecting)
        {
            return _direct.WriteAsync(buffer, cancellationToken);
        }

        if (_length + buffer.Length > CollectLimit && _length > 0 && !_flushing)
        {
            return FlushThenCollectAsync(buffer, cancellationToken);
        }

        Collect(buffer.Span);
        return default;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        if (!_collecting)
        {
            _direct.Write(buffer, offset, count);
            return;
        }

        Collect(buffer.AsSpan(offset, count));
    }

    /// <summary>Nothing: SslStream's own flush must not send (the reply pump calls <see cref="FlushCollectedAsync"/>).</summary>
    public override Task FlushAsync(CancellationToken cancellationToken)
        => _collecting ? Task.CompletedTask : _direct.FlushAsync(cancellationToken);

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _direct.Dispose();
            if (_collected.Length > 0 && !_flushing)
            {
                ArrayPool<byte>.Shared.Return(_collected);
                _collected = [];
                _length = 0;
            }
        }

        base.Dispose(disposing);
    }

    /// <summary>
    /// A sent batch's array: kept for the next batch if none started meanwhile and it is the usual size; a larger one (a
    /// batch of big replies grew it) goes back to the pool, so an idle connection does not hold half a MiB.
    /// </summary>
    private void Recycle(byte[] sent)
    {
        if (_collected.Length == 0 && sent.Length <= KeptBufferSize)
        {
            _collected = sent;
        }
        else
        {
            ArrayPool<byte>.Shared.Return(sent);
        }
    }

    // Pooled builder: SslStream awaits this with ConfigureAwait(false), and a Task-backed ValueTask would resume it on
    // the thread pool (the loop has a SynchronizationContext), off the loop this class belongs to.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FlushThenCollectAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct)
    {
        await FlushCollectedAsync(ct).ConfigureAwait(true);
        Collect(buffer.Span);
    }

    /// <summary>
    /// Makes room for <paramref name="bytes"/> more in one step: a batch of large replies starts from the kept 64 KiB
    /// buffer, and growing it record by record would copy what was collected at every doubling.
    /// </summary>
    public void Reserve(int bytes)
    {
        if (_collecting && _collected.Length - _length < bytes)
        {
            Grow(_length + bytes);
        }
    }

    private void Collect(ReadOnlySpan<byte> data)
    {
        if (_collected.Length - _length < data.Length)
        {
            Grow(Math.Max(_collected.Length * 2, _length + data.Length));
        }

        data.CopyTo(_collected.AsSpan(_length));
        _length += data.Length;
    }

    private void Grow(int capacity)
    {
        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(KeptBufferSize, capacity));
        _collected.AsSpan(0, _length).CopyTo(larger);
        if (_collected.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_collected);
        }

        _collected = larger;
    }
}
