using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Aio.Interop;

namespace Aio.Net;

/// <summary>
/// A connected stream socket whose I/O runs on an <see cref="AioContext"/>'s loop: on the io_uring ring where the
/// context has one (multishot receive into shared provided buffers, SEND/SENDMSG), otherwise on non-blocking syscalls
/// driven by the loop's fd handlers. Any thread may call any member.
/// </summary>
/// <remarks>
/// <para>At most one <see cref="ReceiveAsync"/> and one <c>SendAsync</c> may be pending at a time; a second
/// concurrent one throws <see cref="InvalidOperationException"/>. Steady-state receives and sends allocate nothing.</para>
/// <para>Errors are <see cref="SocketException"/>s with the <see cref="SocketError"/> .NET's <see cref="System.Net.Sockets.Socket"/>
/// gives for the same errno. Cancellation cancels the kernel request and ends the operation with
/// <see cref="OperationCanceledException"/>; no byte is lost or duplicated by it.</para>
/// <para><b>Closing.</b> <see cref="DisposeAsync"/> ends pending operations (<see cref="ObjectDisposedException"/>),
/// cancels the kernel's requests, waits until the kernel let go of every buffer, then closes the fd; the peer sees an
/// orderly end of stream (unless unread data was left, which TCP answers with a reset). <see cref="Abort"/> resets the
/// connection (RST).</para>
/// </remarks>
public sealed partial class AioSocket : IAsyncDisposable, IDisposable
{
    private readonly SafeHandle _handle;
    private readonly Socket? _adopted;
    private readonly int _domain;
    private readonly ReceiveOperation _receive;
    private readonly SendOperation _send;
    private FdReadiness? _readiness;
    private Socket? _view;
    private int _viewClosed;
    private EndPoint? _localEndPoint;
    private EndPoint? _remoteEndPoint;

    internal AioSocket(AioContext context, SafeHandle handle, int domain, Socket? adopted = null)
    {
        Context = context;
        _handle = handle;
        _adopted = adopted;
        _domain = domain;
        Fd = (int)handle.DangerousGetHandle();
        if (context.SocketsUseRing)
        {
            _receive = new UringReceiveOperation(this);
            _send = new UringSendOperation(this);
        }
        else
        {
            _receive = new PollReceiveOperation(this);
            _send = new PollSendOperation(this);
        }

        _close = new LoopClose(context, CloseOnLoop, "socket-close");
    }

    /// <summary>The loop this socket's I/O runs on.</summary>
    public AioContext Context { get; }

    /// <summary>
    /// A <see cref="System.Net.Sockets.Socket"/> over the same fd, for options (<c>NoDelay</c>, buffer sizes, keep-alive); not for
    /// I/O, which would race with the loop's. For an adopted socket, the socket that was adopted.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public Socket Socket
    {
        get
        {
            ThrowIfDisposed();
            if (_adopted is not null)
            {
                return _adopted;
            }

            if (_view is null)
            {
                // Built under a reference on the handle, so the number cannot be closed and reused meanwhile; then
                // either the close's last step sees the view and disposes it, or this sees that step began.
                var view = WithFd(fd => new Socket(new SafeSocketHandle(fd, ownsHandle: false)));
                if (Interlocked.CompareExchange(ref _view, view, null) is not null)
                {
                    view.Dispose();
                }

                if (Volatile.Read(ref _viewClosed) != 0)
                {
                    _view?.Dispose();
                    ThrowIfDisposed();
                    throw new ObjectDisposedException(GetType().FullName);
                }
            }

            return _view!;
        }
    }

    /// <summary>
    /// TCP_NODELAY (Nagle off: small writes go out at once), set directly on the fd: cheaper than going through
    /// <see cref="Socket"/>, which builds a <see cref="System.Net.Sockets.Socket"/> over the fd first.
    /// </summary>
    /// <exception cref="SocketException">The socket is not TCP (<see cref="SocketError.OperationNotSupported"/> or similar).</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public bool NoDelay
    {
        get
        {
            ThrowIfDisposed();
            return WithFd(TcpNoDelay.Get);
        }

        set
        {
            ThrowIfDisposed();
            WithFd(fd => TcpNoDelay.Set(fd, value));
        }
    }

    /// <summary>The local end point (the kernel's answer, cached); null if it has none.</summary>
    public EndPoint? LocalEndPoint => _localEndPoint ??= QueryEndPoint(peer: false);

    /// <summary>The peer's end point (cached); null if not connected.</summary>
    public EndPoint? RemoteEndPoint => _remoteEndPoint ??= QueryEndPoint(peer: true);

    /// <summary>The fd, valid until the close completes.</summary>
    internal int Fd { get; }

    /// <summary>Records the local end point the accepting listener knows already (no getsockname(2)).</summary>
    internal void SetLocalEndPoint(EndPoint endPoint) => _localEndPoint = endPoint;

    /// <summary>The fallback path's fd handler (no io_uring).</summary>
    internal FdReadiness Readiness => _readiness ??= new FdReadiness(Context, Fd, EndOperations);

    /// <summary>The socket's operations are ring requests (for tests; false on the readiness path).</summary>
    internal bool OnRing => _receive is UringReceiveOperation;

    /// <summary>Provided buffers this socket holds unread (for tests; 0 on the fallback path).</summary>
    internal int QueuedReceiveBuffers => (_receive as UringReceiveOperation)?.QueuedBuffers ?? 0;

    /// <summary>The buffer ring the multishot receive draws from (for tests; null on the fallback path).</summary>
    internal Uring.BufferRing? ReceiveBufferRing => (_receive as UringReceiveOperation)?.BufferRing;

    /// <summary>A multishot receive is armed (for tests; false on the fallback path).</summary>
    internal bool ReceiveArmed => (_receive as UringReceiveOperation)?.MultishotArmed ?? false;

    /// <summary>The send side (for tests).</summary>
    internal SendOperation SendSide => _send;

    /// <summary>The send side holds a native iovec list (for tests).</summary>
    internal bool SendListAllocated => _send.ListAllocated;

    /// <summary>For tests: a send as made by a caller who passed the disposed check just before the close finished.</summary>
    internal ValueTask SendPastDisposedCheck(ReadOnlySequence<byte> buffers) => _send.Send(in buffers, more: false, default);

    /// <summary>
    /// Connects to <paramref name="remote"/> (an <see cref="IPEndPoint"/> or a <see cref="UnixDomainSocketEndPoint"/>)
    /// and returns the socket, owned by <paramref name="ctx"/>.
    /// </summary>
    /// <exception cref="SocketException">The connection failed (<see cref="SocketError.ConnectionRefused"/>, ...).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled; the connection attempt is abandoned.</exception>
    public static async ValueTask<AioSocket> ConnectAsync(AioContext ctx, EndPoint remote, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(remote);
        ctx.ThrowIfDisposed();
        ct.ThrowIfCancellationRequested();
        int domain = SocketEndPoints.Domain(remote);
        byte[] address = SocketEndPoints.Serialize(remote);
        var handle = SocketFactory.Create(domain);
        try
        {
            await SocketConnector.ConnectAsync(ctx, handle, address, ct).ConfigureAwait(false);
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        var socket = new AioSocket(ctx, handle, domain);
        // A private copy, as the listener keeps its own: RemoteEndPoint is public and IPEndPoint mutable.
        socket._remoteEndPoint = remote is IPEndPoint ip ? new IPEndPoint(ip.Address, ip.Port) : remote;
        return socket;
    }

    /// <summary>
    /// Takes over a connected <paramref name="socket"/>: from now on its I/O runs on <paramref name="ctx"/>, and
    /// disposing the <see cref="AioSocket"/> disposes it. Do no I/O through <paramref name="socket"/> afterwards.
    /// </summary>
    /// <exception cref="ArgumentException">The socket is not a connected stream socket.</exception>
    public static AioSocket Adopt(AioContext ctx, Socket socket)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(socket);
        ctx.ThrowIfDisposed();
        if (socket.SocketType != SocketType.Stream || !socket.Connected)
        {
            throw new ArgumentException("Adopt takes a connected stream socket.", nameof(socket));
        }

        int domain = socket.AddressFamily switch
        {
            AddressFamily.InterNetwork => Libc.AF_INET,
            AddressFamily.InterNetworkV6 => Libc.AF_INET6,
            AddressFamily.Unix => Libc.AF_UNIX,
            _ => throw new ArgumentException($"Address family {socket.AddressFamily} is not supported.", nameof(socket)),
        };

        // The loop's fallback path needs a non-blocking fd; the ring does not mind one.
        socket.Blocking = false;
        return new AioSocket(ctx, socket.SafeHandle, domain, socket);
    }

    /// <summary>Receives up to <c>buffer.Length</c> bytes; 0 when the peer has shut down its sending side.</summary>
    /// <remarks>An empty <paramref name="buffer"/> waits until data can be read, and returns 0 then.</remarks>
    /// <exception cref="SocketException">The connection failed (reset, ...).</exception>
    /// <exception cref="InvalidOperationException">Another receive is pending.</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        ThrowIfDisposed();
        if (ct.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(ct);
        }

        return _receive.Receive(buffer, ct);
    }

    /// <summary>Sends all of <paramref name="buffer"/>; returns its length.</summary>
    /// <exception cref="SocketException">The connection failed (<see cref="SocketError.Shutdown"/> after a shutdown, reset, ...).</exception>
    /// <exception cref="InvalidOperationException">Another send is pending.</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public ValueTask<int> SendAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) => SendAsync(buffer, more: false, ct);

    /// <summary>
    /// Sends all of <paramref name="buffer"/>; with <paramref name="more"/>, as send(2)'s MSG_MORE: more data or the end
    /// of the stream follows at once, so TCP may hold the last partial segment back until the next send or a
    /// <see cref="Shutdown"/> (whose FIN then leaves in that segment: the end of a response and the end of the stream
    /// in one). What nothing follows leaves on its own after about 200 ms (TCP's probe timer; 208-213 ms measured on
    /// loopback).
    /// </summary>
    /// <returns>The length of <paramref name="buffer"/>.</returns>
    /// <inheritdoc cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>
    public ValueTask<int> SendAsync(ReadOnlyMemory<byte> buffer, bool more, CancellationToken ct = default)
    {
        ThrowIfDisposed();
        if (ct.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(ct);
        }

        return buffer.IsEmpty ? ValueTask.FromResult(0) : _send.Send(buffer, more, ct);
    }

    /// <summary>Sends every segment of <paramref name="buffers"/>, in order, gathered into as few sendmsg calls as possible.</summary>
    /// <inheritdoc cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>
    public ValueTask SendAsync(ReadOnlySequence<byte> buffers, CancellationToken ct = default) => SendAsync(buffers, more: false, ct);

    /// <summary>
    /// Sends every segment of <paramref name="buffers"/>, in order, gathered into as few sendmsg calls as possible;
    /// <paramref name="more"/> as in <see cref="SendAsync(ReadOnlyMemory{byte}, bool, CancellationToken)"/>.
    /// </summary>
    /// <inheritdoc cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>
    public ValueTask SendAsync(ReadOnlySequence<byte> buffers, bool more, CancellationToken ct = default)
    {
        ThrowIfDisposed();
        if (ct.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(ct);
        }

        return buffers.IsEmpty ? default : _send.Send(in buffers, more, ct);
    }

    /// <summary>shutdown(2): <see cref="SocketShutdown.Send"/> sends a FIN after the data already sent; the peer then receives 0.</summary>
    /// <exception cref="SocketException">The kernel refused (for example <see cref="SocketError.NotConnected"/>).</exception>
    public void Shutdown(SocketShutdown how)
    {
        ThrowIfDisposed();
        int mode = how switch
        {
            SocketShutdown.Receive => Libc.SHUT_RD,
            SocketShutdown.Send => Libc.SHUT_WR,
            SocketShutdown.Both => Libc.SHUT_RDWR,
            _ => throw new ArgumentOutOfRangeException(nameof(how)),
        };

        bool added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            if (Libc.Shutdown(Fd, mode) != 0)
            {
                throw SocketErrors.Exception(Errors.LastErrno);
            }

            if (how != SocketShutdown.Receive)
            {
                Volatile.Write(ref _sendShutDown, 1);
            }
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    /// <summary>
    /// getsockname/getpeername holding a reference on the handle (a close on another thread cannot recycle the fd number
    /// under the call, which would answer, and cache, another socket's address); null once closed.
    /// </summary>
    private EndPoint? QueryEndPoint(bool peer)
    {
        if (IsDisposed)
        {
            return null;
        }

        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            return SocketEndPoints.Query(Fd, _domain, peer);
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    /// <summary>Runs a syscall on the fd while holding a reference on its handle, so a concurrent close cannot recycle the number.</summary>
    private T WithFd<T>(Func<int, T> call)
    {
        bool added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            return call(Fd);
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    /// <summary>A <see cref="Stream"/> over the socket that behaves like <see cref="NetworkStream"/>; disposing it disposes the socket.</summary>
    public Stream AsStream()
    {
        ThrowIfDisposed();
        return new AioSocketStream(this);
    }

    /// <summary>
    /// An <see cref="IDuplexPipe"/> over the socket: its input fills from the socket, its output drains to it, with
    /// backpressure both ways (the options' pause thresholds). Completing the output shuts the sending side down (FIN);
    /// completing it with an exception resets the connection (RST), so the peer cannot take a message cut short for a
    /// whole one. Completing both ends disposes the socket.
    /// </summary>
    public IDuplexPipe AsPipe(PipeOptions? receiveOptions = null, PipeOptions? sendOptions = null)
    {
        ThrowIfDisposed();
        return SocketPipe.Start(this, receiveOptions ?? PipeOptions.Default, sendOptions ?? PipeOptions.Default);
    }
}
