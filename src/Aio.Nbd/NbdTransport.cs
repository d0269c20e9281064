using System.Buffers;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using Aio.Net;

namespace Aio.Nbd;

/// <summary>
/// A connection's byte stream: receives through a buffer (one receive brings many pipelined request headers), and
/// sends gathered segments. Plain, it is the <see cref="AioSocket"/>; after STARTTLS, an <see cref="SslStream"/> over it.
/// </summary>
internal sealed class NbdTransport : IAsyncDisposable
{
    private const int BufferSize = 64 * 1024;
    private readonly AioSocket _socket;
    private readonly byte[] _buffer = new byte[BufferSize];
    // TLS records of one staged write: at most what one record carries, so a staged write is one record.
    private const int TlsRecordPlaintext = 16 * 1024;

    // What SslStream writes through at once (half the collector's limit), and more than a record adds to its plaintext
    // (header, MAC or tag, padding: 22 bytes in TLS 1.3 with AES-GCM, at most a few dozen in TLS 1.2).
    private const int TlsWritePiece = 128 * 1024;
    private const int TlsRecordOverheadBound = 256;
    private SslStream? _tls;
    private NbdTlsInnerStream? _tlsInner;
    private byte[]? _tlsStaging;
    private int _start;
    private int _end;
    private bool _intoBuffer;

    public NbdTransport(AioSocket socket) => _socket = socket;

    public AioSocket Socket => _socket;

    public bool IsTls => _tls is not null;

    /// <summary>Bytes already received and not yet consumed.</summary>
    public int Buffered => _end - _start;

    /// <summary>
    /// Fills <paramref name="destination"/>. Returns false if the peer closed cleanly before the first byte;
    /// throws <see cref="EndOfStreamException"/> if it closed in the middle.
    /// </summary>
    public async ValueTask<bool> ReadExactAsync(Memory<byte> destination, CancellationToken ct)
    {
        int done = 0;
        while (!Take(destination.Span, ref done))
        {
            int received = await ReceiveAsync(destination[done..], ct).ConfigureAwait(true);
            if (received == 0)
            {
                return done == 0 ? false : throw new EndOfStreamException("The client closed the connection in the middle of a message.");
            }

            done += Received(received);
        }

        return true;
    }

    /// <summary>
    /// Copies buffered bytes into <paramref name="destination"/> from <paramref name="done"/> on; true once it is full.
    /// With <see cref="ReceiveAsync"/> and <see cref="Received"/>, the pieces of a read that hot paths await directly
    /// (an await of a nested async method would come back through the loop's queue, one more turn and allocation).
    /// </summary>
    public bool Take(Span<byte> destination, ref int done)
    {
        int n = Math.Min(_end - _start, destination.Length - done);
        if (n > 0)
        {
            _buffer.AsSpan(_start, n).CopyTo(destination[done..]);
            _start += n;
            done += n;
        }

        return done == destination.Length;
    }

    /// <summary>The next <paramref name="length"/> buffered bytes, not consumed (<see cref="Buffered"/> must cover them).</summary>
    public ReadOnlySpan<byte> PeekBuffered(int length) => _buffer.AsSpan(_start, length);

    /// <summary>Consumes <paramref name="length"/> buffered bytes that <see cref="PeekBuffered"/> showed.</summary>
    public void ConsumeBuffered(int length) => _start += length;

    /// <summary>
    /// Receives more of a message whose unfilled part is <paramref name="rest"/> (<see cref="Take"/> emptied the
    /// buffer): a large rest straight into it (no copy), a small one into the buffer, which brings the next pipelined
    /// requests along. 0 is the peer's close. Pass the count to <see cref="Received"/>.
    /// </summary>
    public ValueTask<int> ReceiveAsync(Memory<byte> rest, CancellationToken ct)
    {
        _intoBuffer = rest.Length < BufferSize / 2;
        if (!_intoBuffer)
        {
            return ReceiveRawAsync(rest, ct);
        }

        _start = 0;
        _end = 0;
        return ReceiveRawAsync(_buffer, ct);
    }

    /// <summary>After <see cref="ReceiveAsync"/> gave <paramref name="received"/> bytes: how many went straight into the rest.</summary>
    public int Received(int received)
    {
        if (_intoBuffer)
        {
            _end = received;
            return 0;
        }

        return received;
    }

    /// <summary>Like <see cref="ReadExactAsync"/> but a clean close is an error too.</summary>
    public async ValueTask ReadRequiredAsync(Memory<byte> destination, CancellationToken ct)
    {
        if (!await ReadExactAsync(destination, ct).ConfigureAwait(true) && destination.Length > 0)
        {
            throw new EndOfStreamException("The client closed the connection.");
        }
    }

    /// <summary>Discards <paramref name="count"/> bytes (a payload that is refused but must be consumed).</summary>
    public async ValueTask SkipAsync(long count, CancellationToken ct)
    {
        byte[] scratch = ArrayPool<byte>.Shared.Rent((int)Math.Min(count, BufferSize));
        try
        {
            while (count > 0)
            {
                int n = (int)Math.Min(count, scratch.Length);
                await ReadRequiredAsync(scratch.AsMemory(0, n), ct).ConfigureAwait(true);
                count -= n;
            }
        }
        catch (ObjectDisposedException)
        {
            // The socket or its loop closed under a receive the kernel may not have let go of: not back to the pool.
            throw;
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(scratch);
            throw;
        }

        ArrayPool<byte>.Shared.Return(scratch);
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default)
        => _tls is null ? new ValueTask(_socket.SendAsync(data, ct).AsTask()) : SendTlsAsync(new ReadOnlySequence<byte>(data), ct);

    /// <summary>Sends gathered segments: plain, the socket's own operation (awaited directly by the reply pump).</summary>
    public ValueTask SendAsync(ReadOnlySequence<byte> data, CancellationToken ct = default)
        => _tls is null ? _socket.SendAsync(data, ct) : SendTlsAsync(data, ct);

    /// <summary>
    /// Encrypts <paramref name="data"/> into records (small segments, such as reply headers and 4 KiB reads, staged
    /// together up to a record's worth; a segment that size or larger written as it is) and sends them in one go. The
    /// writes complete at once (<see cref="NbdTlsInnerStream"/> collects their records); the flush is the one wait.
    /// </summary>
    private async ValueTask SendTlsAsync(ReadOnlySequence<byte> data, CancellationToken ct)
    {
        byte[] staging = _tlsStaging ??= new byte[TlsRecordPlaintext];
        int staged = 0;
        foreach (var segment in data)
        {
            if (segment.Length >= TlsRecordPlaintext)
            {
                if (staged > 0)
                {
                    await WriteTlsAsync(staging.AsMemory(0, staged), ct).ConfigureAwait(true);
                    staged = 0;
                }

                await WriteTlsAsync(segment, ct).ConfigureAwait(true);
                continue;
            }

            if (staged + segment.Length > TlsRecordPlaintext)
            {
                await WriteTlsAsync(staging.AsMemory(0, staged), ct).ConfigureAwait(true);
                staged = 0;
            }

            segment.Span.CopyTo(staging.AsSpan(staged));
            staged += segment.Length;
        }

        if (staged > 0)
        {
            await WriteTlsAsync(staging.AsMemory(0, staged), ct).ConfigureAwait(true);
        }

        await _tlsInner!.FlushCollectedAsync(ct).ConfigureAwait(true);
    }

    /// <summary>
    /// Writes <paramref name="data"/> through SslStream in pieces whose records always fit the collector, sending what
    /// was collected first where they would not. SslStream's write then never waits: its own awaits are Task-based and
    /// ConfigureAwait(false), and one that waited would resume through the thread pool (the loop has a
    /// SynchronizationContext), several hops for every large reply. This wait is ours, and resumes on the loop.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteTlsAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        while (data.Length > 0)
        {
            var piece = data[..Math.Min(TlsWritePiece, data.Length)];
            int records = (piece.Length + TlsRecordPlaintext - 1) / TlsRecordPlaintext;
            int encrypted = piece.Length + (records * TlsRecordOverheadBound);
            if (_tlsInner!.Collected + encrypted > NbdTlsInnerStream.CollectLimit)
            {
                await _tlsInner.FlushCollectedAsync(ct).ConfigureAwait(true);
            }

            _tlsInner.Reserve(encrypted);

            await _tls!.WriteAsync(piece, ct).ConfigureAwait(true);
            data = data[piece.Length..];
        }
    }

    /// <summary>
    /// Switches to TLS after STARTTLS was acknowledged. Bytes the client sent before the ACK would be plaintext
    /// injected into the TLS session (nbdkit CVE-2021-3716): the caller must have checked <see cref="Buffered"/> is 0.
    /// </summary>
    public async ValueTask StartTlsAsync(SslStreamCertificateContext certificate, CancellationToken ct)
    {
        var inner = new NbdTlsInnerStream(_socket);
        var tls = new SslStream(inner, leaveInnerStreamOpen: false);
        _tls = tls;
        _tlsInner = inner;
        await tls.AuthenticateAsServerAsync(
            new SslServerAuthenticationOptions
            {
                ServerCertificateContext = certificate,
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                ClientCertificateRequired = false,
            },
            ct).ConfigureAwait(true);

        // The handshake's flights went out as SslStream wrote them; from now on each batch of replies is one send.
        inner.StartCollecting();
    }

    /// <summary>Ends the send side (TLS close_notify first): the client sees the end of the replies.</summary>
    public async ValueTask ShutdownAsync()
    {
        try
        {
            if (_tls is not null)
            {
                await _tls.ShutdownAsync().ConfigureAwait(true);
                await _tlsInner!.FlushCollectedAsync(CancellationToken.None).ConfigureAwait(true);
            }

            _socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            // The peer is gone already: nothing left to tell it.
        }
    }

    /// <summary>
    /// After <see cref="ShutdownAsync"/>, when requests may still be unread (the server stopped the connection): reads
    /// and drops what the client sends until it closes its side, at most for <paramref name="limit"/>. A close that
    /// leaves input unread resets the connection (TCP), and a reset throws away the replies still in the send queue:
    /// the ESHUTDOWN answers a stopping server owes. Reads the socket itself (under TLS too: nothing more is decrypted).
    /// </summary>
    public async ValueTask DrainInputAsync(TimeSpan limit)
    {
        // Into the connection's own receive buffer, done with by now, not a pooled one: a receive the loop's teardown
        // abandons may still be written by the kernel, and a pooled array would then be someone else's.
        try
        {
            using var deadline = new CancellationTokenSource(limit);
            while (await _socket.ReceiveAsync(_buffer, deadline.Token).ConfigureAwait(true) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            // The limit, a reset, or a socket closed under it: the close goes ahead.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_tls is not null)
        {
            await _tls.DisposeAsync().ConfigureAwait(true);
        }

        await _socket.DisposeAsync().ConfigureAwait(true);
    }

    private ValueTask<int> ReceiveRawAsync(Memory<byte> buffer, CancellationToken ct)
        => _tls is null ? _socket.ReceiveAsync(buffer, ct) : _tls.ReadAsync(buffer, ct);
}
