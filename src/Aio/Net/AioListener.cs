using System.Net;
using System.Net.Sockets;
using Aio.Interop;

namespace Aio.Net;

/// <summary>
/// A listening stream socket whose accepts run on an <see cref="AioContext"/>'s loop (multishot ACCEPT on the ring
/// where the kernel has it). Connections can be handed to other loops with <see cref="AcceptAsync(AioContext, CancellationToken)"/>.
/// </summary>
/// <remarks>
/// <para>Two ways to spread connections over an <see cref="IoThreadGroup"/>: one listener that accepts on one loop and
/// hands each connection to <c>group.Next().Context</c> (simple, balanced, one extra hop per connection), or one
/// listener per loop on the same port, each bound with <c>reusePort: true</c> (SO_REUSEPORT; the kernel
/// spreads connections by hash; no hop, best under connection churn, but an idle loop cannot help a busy one).</para>
/// <para><see cref="Bind(AioContext, EndPoint, int)"/> sets SO_REUSEADDR only (so a busy port gives <see cref="SocketError.AddressAlreadyInUse"/>),
/// and for the IPv6 any-address also accepts IPv4 (dual mode).</para>
/// </remarks>
public sealed class AioListener : IAsyncDisposable, IDisposable
{
    private readonly SocketHandle _handle;
    private readonly int _domain;
    private readonly AcceptOperation _accept;

    // The accept operation serves one caller at a time; concurrent AcceptAsync calls (several accept loops, as Socket
    // allows) queue here for it. Uncontended, taking it is a Wait(0) without allocation.
    private readonly SemaphoreSlim _acceptTurn = new(1, 1);
    private readonly LoopClose _close;
    private readonly string? _unixPath;

    // What the bind created at _unixPath: the close deletes the path only if it is still that socket file (another
    // server may have replaced it meanwhile, and must not lose it). Null if it could not be read: deleted as is.
    private readonly (uint, uint, ulong)? _unixIdentity;
    // The local end point every accepted connection has: the bound one, unless bound to a wildcard address (then the
    // kernel picks per connection and only getsockname(2) knows).
    private readonly IPEndPoint? _acceptedLocal;
    private FdReadiness? _readiness;

    private AioListener(AioContext context, SocketHandle handle, int domain, int backlog, EndPoint localEndPoint, string? unixPath)
    {
        Context = context;
        _handle = handle;
        _domain = domain;
        _unixPath = unixPath;
        _unixIdentity = unixPath is null ? null : Libc.FileIdentity(unixPath);
        Fd = handle.Fd;
        LocalEndPoint = localEndPoint;
        if (localEndPoint is IPEndPoint ip && !IsWildcard(ip.Address))
        {
            // A private copy: LocalEndPoint is public and IPEndPoint mutable.
            _acceptedLocal = new IPEndPoint(ip.Address, ip.Port);
        }

        _accept = new AcceptOperation(this, backlog);
        _close = new LoopClose(context, CloseOnLoop, "listener-close");
    }

    /// <summary>The loop the accepts run on.</summary>
    public AioContext Context { get; }

    /// <summary>The bound end point; the real port when port 0 was asked.</summary>
    public EndPoint LocalEndPoint { get; }

    internal int Fd { get; }

    /// <summary>
    /// TCP_NODELAY on the listening socket. Linux copies it into every connection accepted afterwards, so setting it
    /// here once saves the setsockopt(2) per connection that <see cref="AioSocket.NoDelay"/> costs.
    /// </summary>
    /// <exception cref="SocketException">The listener is not TCP (<see cref="SocketError.OperationNotSupported"/> or similar).</exception>
    /// <exception cref="ObjectDisposedException">The listener was disposed.</exception>
    public bool NoDelay
    {
        get => WithFd(TcpNoDelay.Get);

        set
        {
            WithFd(fd => TcpNoDelay.Set(fd, value));
        }
    }

    /// <summary>Connections the multishot ACCEPT queued that nobody took yet (for tests).</summary>
    internal int QueuedConnections => _accept.Queued;

    internal FdReadiness Readiness => _readiness ??= new FdReadiness(Context, Fd, reason => _accept.BeginClose(reason));

    /// <summary>
    /// Binds and listens on <paramref name="endPoint"/>: an <see cref="IPEndPoint"/> (port 0 picks a free port) or a
    /// <see cref="UnixDomainSocketEndPoint"/>.
    /// </summary>
    /// <exception cref="SocketException">The kernel refused (<see cref="SocketError.AddressAlreadyInUse"/>, <see cref="SocketError.AccessDenied"/>, ...).</exception>
    /// <exception cref="ArgumentException">The end point is of another kind.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="backlog"/> is 0 or negative (it also bounds the connections the listener accepts ahead of <see cref="AcceptAsync(CancellationToken)"/>).</exception>
    public static AioListener Bind(AioContext ctx, EndPoint endPoint, int backlog = 512) => Bind(ctx, endPoint, backlog, reusePort: false);

    /// <summary>
    /// <see cref="Bind(AioContext, EndPoint, int)"/>, with <paramref name="reusePort"/> setting SO_REUSEPORT on a TCP
    /// socket: then one listener per loop may bind the same address and port, and the kernel spreads incoming
    /// connections over them (no hand-over between loops). Every listener sharing the port must set it (a port held
    /// without it stays <see cref="SocketError.AddressAlreadyInUse"/>).
    /// </summary>
    /// <exception cref="SocketException">The kernel refused (<see cref="SocketError.AddressAlreadyInUse"/>, <see cref="SocketError.AccessDenied"/>, ...).</exception>
    /// <exception cref="ArgumentException">The end point is of another kind, or <paramref name="reusePort"/> with a Unix-domain end point.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="backlog"/> is 0 or negative.</exception>
    public static AioListener Bind(AioContext ctx, EndPoint endPoint, int backlog, bool reusePort) => Bind(ctx, endPoint, backlog, reusePort, noDelay: false);

    /// <summary>
    /// <see cref="Bind(AioContext, EndPoint, int, bool)"/>; <paramref name="noDelay"/> sets TCP_NODELAY on a TCP
    /// listener before listen(2), so every connection, the first included, inherits it (see <see cref="NoDelay"/>); it
    /// is ignored for a Unix-domain end point.
    /// </summary>
    /// <exception cref="SocketException">The kernel refused (<see cref="SocketError.AddressAlreadyInUse"/>, <see cref="SocketError.AccessDenied"/>, ...).</exception>
    /// <exception cref="ArgumentException">The end point is of another kind, or <paramref name="reusePort"/> with a Unix-domain end point.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="backlog"/> is 0 or negative.</exception>
    public static AioListener Bind(AioContext ctx, EndPoint endPoint, int backlog, bool reusePort, bool noDelay)
    {
        if (reusePort && endPoint is UnixDomainSocketEndPoint)
        {
            throw new ArgumentException("SO_REUSEPORT applies to TCP listeners only.", nameof(reusePort));
        }

        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(endPoint);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(backlog);
        ctx.ThrowIfDisposed();
        int domain = SocketEndPoints.Domain(endPoint);
        byte[] address = SocketEndPoints.Serialize(endPoint);
        var handle = SocketFactory.Create(domain);
        try
        {
            int fd = handle.Fd;
            if (domain != Libc.AF_UNIX)
            {
                Check(Libc.SetSockOptInt(fd, Libc.SOL_SOCKET, Libc.SO_REUSEADDR, 1));
                if (reusePort)
                {
                    Check(Libc.SetSockOptInt(fd, Libc.SOL_SOCKET, Libc.SO_REUSEPORT, 1));
                }
            }

            if (endPoint is IPEndPoint ip && ip.Address.Equals(IPAddress.IPv6Any))
            {
                Check(Libc.SetSockOptInt(fd, Libc.IPPROTO_IPV6, Libc.IPV6_V6ONLY, 0));
            }

            if (noDelay && domain != Libc.AF_UNIX)
            {
                Check(Libc.SetSockOptInt(fd, Libc.IPPROTO_TCP, Libc.TCP_NODELAY, 1));
            }

            Check(Libc.Bind(fd, address));
            if (Libc.Listen(fd, backlog) != 0)
            {
                Check(-Errors.LastErrno);
            }

            var local = SocketEndPoints.Query(fd, domain, peer: false) ?? endPoint;
            return new AioListener(ctx, handle, domain, backlog, local, SocketEndPoints.SocketFilePath(endPoint));
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        static void Check(int result)
        {
            if (result < 0)
            {
                throw SocketErrors.Exception(-result);
            }
        }
    }

    /// <summary>
    /// Accepts a connection; the socket belongs to <see cref="Context"/>. Any thread; several accepts may be pending at
    /// once (they are served in turn).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The listener was disposed (also while this accept was pending).</exception>
    public ValueTask<AioSocket> AcceptAsync(CancellationToken ct = default) => AcceptAsync(Context, ct);

    /// <summary>Accepts a connection whose I/O will run on <paramref name="target"/>, another loop.</summary>
    /// <inheritdoc cref="AcceptAsync(CancellationToken)"/>
    public ValueTask<AioSocket> AcceptAsync(AioContext target, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (_close.Request != 0)
        {
            throw new ObjectDisposedException(nameof(AioListener));
        }

        if (ct.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<AioSocket>(ct);
        }

        if (_accept.TryTakeQueued(out int queued))
        {
            return new ValueTask<AioSocket>(Wrap(queued, target));
        }

        return _acceptTurn.Wait(0) ? AcceptInTurn(target, ct) : AcceptAfterOthers(target, ct);
    }

    /// <summary>Holding the turn: one accept on the operation, the turn passed on once its result was taken.</summary>
    private ValueTask<AioSocket> AcceptInTurn(AioContext target, CancellationToken ct)
    {
        ValueTask<int> pending;
        try
        {
            pending = _accept.Accept(ct);
        }
        catch
        {
            _acceptTurn.Release();
            throw;
        }

        if (pending.IsCompletedSuccessfully)
        {
            int fd = pending.Result;
            _acceptTurn.Release();
            return new ValueTask<AioSocket>(Wrap(fd, target));
        }

        // Pending, or failed already: a failure reaches the caller through the returned task, as before.
        return AwaitAccepted(pending, target);
    }

    private async ValueTask<AioSocket> AwaitAccepted(ValueTask<int> pending, AioContext target)
    {
        int fd;
        try
        {
            fd = await pending;
        }
        finally
        {
            _acceptTurn.Release();
        }

        return Wrap(fd, target);
    }

    /// <summary>Another accept holds the turn: wait for it, then take a queued connection or accept in turn.</summary>
    private async ValueTask<AioSocket> AcceptAfterOthers(AioContext target, CancellationToken ct)
    {
        await _acceptTurn.WaitAsync(ct).ConfigureAwait(false);
        if (_accept.TryTakeQueued(out int queued))
        {
            _acceptTurn.Release();
            return Wrap(queued, target);
        }

        return await AcceptInTurn(target, ct).ConfigureAwait(false);
    }

    /// <summary>Stops listening: pending accepts end with <see cref="ObjectDisposedException"/>; connections nobody accepted are closed.</summary>
    public ValueTask DisposeAsync() => new(_close.RequestClose(1));

    /// <summary>
    /// <see cref="DisposeAsync"/>'s close. Off the loops, on a listener whose loop an <see cref="IoThread"/> runs, it
    /// returns once the listening socket is closed (its port free, a Unix socket's file deleted); on a loop thread, or
    /// on a loop the caller runs itself, it starts the close and returns (the loop finishes it).
    /// </summary>
    public void Dispose() => _close.RequestCloseAndWaitWhereSafe(1);

    /// <summary>Loop thread: closes once the kernel holds no accept of this listener.</summary>
    internal void TryFinishClose()
    {
        if (!_accept.KernelIdle || !_close.TryFinish())
        {
            return;
        }

        _accept.Release();
        _accept.DisposeHandOver();

        // Looked at before the close: once the socket is released, the file system may give its inode number to a
        // replacement's new file at once, which would then pass for this one.
        bool ownFile = _unixPath is not null && (_unixIdentity is null || Libc.FileIdentity(_unixPath) == _unixIdentity);
        _handle.Dispose();
        if (ownFile && _unixPath is not null)
        {
            try
            {
                File.Delete(_unixPath);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        _close.Complete();
    }

    private AioSocket Wrap(int fd, AioContext target)
    {
        var handle = SocketFactory.Own(fd);
        try
        {
            var socket = new AioSocket(target, handle, _domain);
            if (_acceptedLocal is not null)
            {
                // A fresh copy per connection (IPEndPoint is mutable), and one getsockname(2) fewer.
                socket.SetLocalEndPoint(new IPEndPoint(_acceptedLocal.Address, _acceptedLocal.Port));
            }

            return socket;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private T WithFd<T>(Func<int, T> call)
    {
        if (_close.Request != 0)
        {
            throw new ObjectDisposedException(nameof(AioListener));
        }

        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            return call(Fd);
        }
        catch (ObjectDisposedException)
        {
            throw new ObjectDisposedException(nameof(AioListener));
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    /// <summary>0.0.0.0, ::, and ::ffff:0.0.0.0 (which Linux binds as the IPv4 wildcard).</summary>
    private static bool IsWildcard(IPAddress address)
        => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)
           || (address.IsIPv4MappedToIPv6 && address.MapToIPv4().Equals(IPAddress.Any));

    private void CloseOnLoop()
    {
        _accept.BeginClose(new ObjectDisposedException(nameof(AioListener), "The listener was disposed with the accept pending."));
        _readiness?.Remove();
        TryFinishClose();
    }
}
