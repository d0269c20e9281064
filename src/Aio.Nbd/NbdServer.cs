using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Aio.Nbd.Interop;
using Aio.Net;

namespace Aio.Nbd;

/// <summary>
/// An NBD server: listens on <see cref="NbdServerOptions.Listen"/>, gives each connection to one loop of an
/// <see cref="IoThreadGroup"/>, and serves the exports (shared by all loops) with the NBD protocol.
/// </summary>
public sealed class NbdServer : IAsyncDisposable
{
    // How long the accept loop waits after a failed accept.
    internal static readonly TimeSpan AcceptBackoff = TimeSpan.FromMilliseconds(50);

    // CancellationTokenSource.CancelAfter's limit (2^32 - 2 ms, about 49.7 days): a longer timeout would throw on every
    // connection, after the server had already announced itself.
    internal static readonly TimeSpan MaxHandshakeTimeout = TimeSpan.FromMilliseconds(uint.MaxValue - 1.0);

    /// <summary>
    /// The most loops a server starts: each is a thread with a ring. 100,000 ran the process out of memory before it
    /// served anything; a thousand is far past what a machine's cores can use.
    /// </summary>
    internal const int MaxThreads = 1024;

    private readonly IoThreadGroup _group;
    private readonly List<AioListener> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly ConcurrentDictionary<Task, byte> _connections = new();
    private readonly CancellationTokenSource _stop = new();
    private int _connectionCount;
    private long _peakConnectionBytes;
    private long _writesFromReceiveBuffer;
    private long _workerWritesOnLoop;
    private long _readsFromView;
    private long _readsInPlace;
    private long _budgetWaits;
    private long _acceptFailures;
    private long _replySends;
    private int _disposed;

    private NbdServer(NbdServerOptions options, SslStreamCertificateContext? tlsContext, IoThreadGroup group, IReadOnlyList<NbdExport> exports)
    {
        Options = options;
        TlsContext = tlsContext;
        _group = group;
        Exports = exports;
        foreach (var thread in group.Threads)
        {
            // The loops' own trouble goes to the server's log like everything else it reports: a callback that threw
            // (the loop serves on) and the loop's warnings, above all a loop stalled by a call that blocked it.
            thread.CallbackException += (loop, exception) => Log($"{loop.Name}: a callback threw: {exception.GetType().Name}: {exception.Message}");
            thread.Context.Warning += (_, warning) => Log(warning.Message);
        }
    }

    /// <summary>The end points as bound (real ports when 0 was asked).</summary>
    public IReadOnlyList<EndPoint> EndPoints { get; private set; } = [];

    /// <summary>
    /// Where servers without their own <see cref="NbdServerOptions.Log"/> write one line per notable event (stderr in
    /// <c>aio nbd serve</c>); null = silent.
    /// </summary>
    public static Action<string>? Logger { get; set; }

    internal NbdServerOptions Options { get; }

    internal IReadOnlyList<NbdExport> Exports { get; }

    /// <summary>The certificate with its chain, built once at start (<see cref="NbdTlsContext"/>); null without TLS.</summary>
    internal SslStreamCertificateContext? TlsContext { get; }

    /// <summary>Connections open now.</summary>
    internal int ConnectionCount => Volatile.Read(ref _connectionCount);

    /// <summary>The loops (tests count what they allocate).</summary>
    internal IoThreadGroup Group => _group;

    /// <summary>The most buffer bytes one finished connection held at once (tests check the per-connection bound).</summary>
    internal long PeakConnectionBytes => Volatile.Read(ref _peakConnectionBytes);

    /// <summary>Opens the exports, binds every end point and starts accepting.</summary>
    /// <exception cref="ArgumentException">No exports, duplicate names, a bad limit, a TLS certificate without its private key or that TLS cannot use, or a chain without a certificate.</exception>
    /// <exception cref="AioException">A file could not be opened.</exception>
    /// <exception cref="SocketException">An end point could not be bound.</exception>
    public static NbdServer Start(NbdServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Exports is null || options.Exports.Count == 0)
        {
            throw new ArgumentException("At least one export is needed.", nameof(options));
        }

        if (options.Exports.Select(e => e.Name).Distinct(StringComparer.Ordinal).Count() != options.Exports.Count)
        {
            throw new ArgumentException("Export names must be unique.", nameof(options));
        }

        if (options.Exports.Any(e => System.Text.Encoding.UTF8.GetByteCount(e.Name) > NbdProtocol.MaxStringLength))
        {
            throw new ArgumentException("An export name is longer than 4096 bytes.", nameof(options));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(options.Threads, nameof(options));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Threads, MaxThreads, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxConnections, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxRequestsInFlight, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBytesInFlight, 1, nameof(options));
        if (options.PollMaxNs < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.PollMaxNs, "PollMaxNs must not be negative.");
        }
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.HandshakeTimeout, TimeSpan.Zero, nameof(options));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.HandshakeTimeout, MaxHandshakeTimeout, nameof(options));
        if (options.Listen is null || options.Listen.Count == 0)
        {
            throw new ArgumentException("At least one end point is needed.", nameof(options));
        }

        if (options.TlsCertificateChain is not null && options.TlsCertificate is null)
        {
            throw new ArgumentException("A TLS certificate chain needs the TLS certificate it leads to.", nameof(options));
        }

        if (options.TlsCertificate is { HasPrivateKey: false })
        {
            throw new ArgumentException("The TLS certificate has no private key.", nameof(options));
        }

        string? tlsWarning = null;
        var tlsContext = options.TlsCertificate is null ? null : NbdTlsContext.Create(options.TlsCertificate, options.TlsCertificateChain, out tlsWarning);

        // The poll ceiling is in force before any export opens or any client connects.
        var group = IoThreadGroup.Start("nbd", options.Threads, options.LoopOptions, options.PollMaxNs);

        var exports = new List<NbdExport>();
        NbdServer? server = null;
        try
        {
            foreach (var export in options.Exports)
            {
                exports.Add(NbdExport.Open(group.Threads[0].Context, export));
            }

            server = new NbdServer(options, tlsContext, group, exports);
            if (tlsWarning is not null)
            {
                server.Log(tlsWarning);
            }

            server.Listen();
            return server;
        }
        catch
        {
            if (server is not null)
            {
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            else
            {
                foreach (var export in exports)
                {
                    export.Dispose();
                }

                group.Dispose();
            }

            throw;
        }
    }

    /// <summary>Stops accepting, answers every request already read, closes every connection, then the exports and loops.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        foreach (var listener in _listeners)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }

        try
        {
            await Task.WhenAll(_acceptLoops).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // The listeners were closed under their accepts.
        }

        try
        {
            await Task.WhenAll(_connections.Keys).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A client that does not read its replies cannot hold the shutdown forever: its loop's disposal below
            // ends what is left.
            Log("stopping: connections still draining after 30 s are closed");
        }

        foreach (var export in Exports)
        {
            export.Dispose();
        }

        await _group.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>Page-cache WRITEs that ended connections wrote straight from their receive buffers (for tests).</summary>
    internal long WritesFromReceiveBuffer => Interlocked.Read(ref _writesFromReceiveBuffer);

    /// <summary>Page-cache WRITEs that ended connections' request workers wrote with pwrite on the loop (for tests).</summary>
    internal long WorkerWritesOnLoop => Interlocked.Read(ref _workerWritesOnLoop);

    /// <summary>READs that ended connections answered from the page cache through the export's view (for tests).</summary>
    internal long ReadsFromView => Interlocked.Read(ref _readsFromView);

    /// <summary>READs that ended connections answered in their receive loops, with no slot or worker (for tests).</summary>
    internal long ReadsInPlace => Interlocked.Read(ref _readsInPlace);

    /// <summary>Times a connection's receive loop waited for room in its byte budget, live (for tests).</summary>
    internal long BudgetWaits => Interlocked.Read(ref _budgetWaits);

    /// <summary>Accepts that failed (for tests: with the back-off, at most one per <see cref="AcceptBackoff"/>).</summary>
    internal long AcceptFailures => Interlocked.Read(ref _acceptFailures);

    internal void NoteBudgetWait() => Interlocked.Increment(ref _budgetWaits);

    /// <summary>Gathered reply sends of the connections that ended (for tests).</summary>
    internal long ReplySends => Interlocked.Read(ref _replySends);

    /// <summary>Adds an ended connection's figures to the server's (for tests and diagnostics).</summary>
    internal void NoteEnded(NbdTransmission transmission)
    {
        NbdByteBudget.RaiseTo(ref _peakConnectionBytes, transmission.PeakBytesHeld);
        Interlocked.Add(ref _writesFromReceiveBuffer, transmission.WritesFromReceiveBuffer);
        Interlocked.Add(ref _workerWritesOnLoop, transmission.WorkerWritesOnLoop);
        Interlocked.Add(ref _readsFromView, transmission.ReadsFromView);
        Interlocked.Add(ref _readsInPlace, transmission.ReadsInPlace);
        Interlocked.Add(ref _replySends, transmission.ReplySends);
    }

    internal void Log(string message) => (Options.Log ?? Logger)?.Invoke("aio nbd: " + message);

    private void Listen()
    {
        var ctx = _group.Threads[0].Context;
        var bound = new List<EndPoint>();
        foreach (var endPoint in Options.Listen)
        {
            string? path = SocketFileOf(endPoint);
            if (path is not null && IsStaleSocket(path, (UnixDomainSocketEndPoint)endPoint))
            {
                // A socket left by an earlier run that did not clean up: binding would fail with EADDRINUSE.
                File.Delete(path);
            }

            // The listener deletes its socket file when it closes, and only a file it bound: a path bind refused
            // (another server's live socket, a regular file) is not touched, nor one another server bound after
            // this one's listener closed (the server used to delete it again at the end of its drain).
            // TCP_NODELAY on a TCP listener, inherited by every connection it accepts (no setsockopt(2), nor a Socket
            // view, per connection): replies are small and latency-bound, and the protocol recommends it.
            var listener = AioListener.Bind(ctx, endPoint, backlog: 512, reusePort: false, noDelay: true);
            _listeners.Add(listener);
            bound.Add(listener.LocalEndPoint);
        }

        EndPoints = bound;
        foreach (var listener in _listeners)
        {
            _acceptLoops.Add(ctx.InvokeAsync(() => AcceptLoopAsync(listener)));
        }
    }

    /// <summary>The file system path a Unix-domain end point binds, or null (not Unix, or an abstract address: no file).</summary>
    private static string? SocketFileOf(EndPoint endPoint)
    {
        if (endPoint is not UnixDomainSocketEndPoint unix)
        {
            return null;
        }

        // ToString renders an abstract address ("\0name") as "@name", which is also a legal file name: tell them apart
        // by the address bytes, not the string.
        var address = unix.Serialize();
        const int PathOffset = 2;
        if (address.Size <= PathOffset || address[PathOffset] == 0)
        {
            return null;
        }

        return Path.GetFullPath(unix.ToString());
    }

    private static bool IsStaleSocket(string path, UnixDomainSocketEndPoint endPoint)
    {
        // connect(2) answers ECONNREFUSED for a path that is not a socket at all (a disk image, a note), so the type
        // is checked first: only a socket file is ever deleted.
        if (FileType.OfEntry(path, out _) != FileType.Socket)
        {
            return false;
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(endPoint);
            return false;
        }
        catch (SocketException ex)
        {
            // Refused: a socket file nobody listens on. Anything else (not a socket...) is left for bind to report.
            return ex.SocketErrorCode == SocketError.ConnectionRefused;
        }
    }

    private async Task AcceptLoopAsync(AioListener listener)
    {
        var stop = _stop.Token;
        bool failing = false;
        while (!stop.IsCancellationRequested)
        {
            AioSocket socket;
            try
            {
                socket = await listener.AcceptAsync(_group.Next().Context, stop).ConfigureAwait(true);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                Interlocked.Increment(ref _acceptFailures);

                // EMFILE and friends: keep serving the clients already connected. The connection that failed stays in
                // the backlog, so accepting again at once fails again: log the first of a run, and wait a little
                // (an fd limit clears when connections close; a spin would only take the loop from them).
                if (!failing)
                {
                    failing = true;
                    Log("accept failed: " + ex.Message + "; accepting again every " + (int)AcceptBackoff.TotalMilliseconds + " ms");
                }

                try
                {
                    await Task.Delay(AcceptBackoff, stop).ConfigureAwait(true);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            failing = false;

            if (Interlocked.Increment(ref _connectionCount) > Options.MaxConnections)
            {
                Interlocked.Decrement(ref _connectionCount);
                Log("connection refused: more than " + Options.MaxConnections + " connections");
                await socket.DisposeAsync().ConfigureAwait(true);
                continue;
            }

            var connection = new NbdConnection(this, socket);
            var task = connection.Context.InvokeAsync(() => connection.RunAsync(stop));
            _connections[task] = 0;
            _ = task.ContinueWith(
                (t, state) =>
                {
                    var server = (NbdServer)state!;
                    server._connections.TryRemove(t, out _);
                    Interlocked.Decrement(ref server._connectionCount);
                },
                this,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }
}
