using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Aio.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace Aio.AspNetCore;

/// <summary>
/// One accepted connection as Kestrel sees it: a <see cref="ConnectionContext"/> whose <see cref="Transport"/> is a pair
/// of pipes filled and drained by two pumps on the socket's loop (AioConnection.Pumps.cs).
/// </summary>
/// <remarks>
/// <para><b>Closing</b> mirrors Kestrel's Sockets transport: when Kestrel completes the output gracefully the socket
/// is shut down both ways (FIN after the data); on an error or <see cref="Abort(ConnectionAbortedException)"/> it is
/// reset (RST). <see cref="ConnectionClosed"/> is cancelled on the thread pool, never on the loop, once the receive
/// side has ended (peer FIN, reset, or local shutdown). <see cref="DisposeAsync"/> returns after both pumps ended and
/// the kernel let go of every buffer of the socket.</para>
/// </remarks>
internal sealed partial class AioConnection : ConnectionContext,
    IConnectionIdFeature,
    IConnectionTransportFeature,
    IConnectionItemsFeature,
    IMemoryPoolFeature,
    IConnectionLifetimeFeature,
    IConnectionEndPointFeature,
    IConnectionSocketFeature
{
    /// <summary>Smallest free space asked of the input pipe for one receive (what Sockets asks).</summary>
    private const int MinAllocBufferSize = 4096;

    private static long s_lastId;

    private readonly AioSocket _socket;
    private readonly ILogger _logger;
    private readonly Pipe _input;
    private readonly Pipe _output;
    // The input end handed to Kestrel (the loop-entry wrapper in Loop mode), kept for DisposeAsync.
    private readonly PipeReader _transportInput;
    private readonly LoopPipeScheduler _loop;
    private readonly CancellationTokenSource _closedSource = new();
    private readonly Lock _shutdownLock = new();
    private readonly AioConnectionFeatures _features;
    private readonly bool _waitForData;
    private string? _connectionId;
    private IDictionary<object, object?>? _items;

    // What DisposeAsync waits for: both pumps ended and the ConnectionClosed callbacks ran (as Sockets' waits for them).
    // Completed by whoever ends the last of the three (_endsLeft), and always on the pool (see EndOne), with synchronous
    // continuations: the last end is usually the ConnectionClosed work item itself, which then resumes DisposeAsync
    // without queueing a second work item.
    private readonly TaskCompletionSource _ended = new();
    private int _endsLeft = 3;
    private Exception? _shutdownReason;
    private bool _shutdown;
    private bool _receiveDone;
    private bool _aborted;
    private int _closedFired;

    // The ConnectionClosed callback (queued once the receive side ended) and DisposeAsync both use _closedSource; the
    // second to finish disposes it. Disposing it in DisposeAsync alone raced with a late Cancel, which then threw.
    private int _closedSourceUsers = 2;

    // The output pipe's pool when it mixes in large blocks; told when the send pump has caught up.
    private readonly OutputBlockPool? _outputBlocks;

    public AioConnection(AioSocket socket, MemoryPool<byte> pool, LoopPipeScheduler loop, AioTransportOptions options, ILogger logger)
    {
        _socket = socket;
        _loop = loop;
        _logger = logger;

        // In Loop mode the pipes' blocks, and Kestrel's own through the feature, come through the loop's cache
        // (LoopBlockCache): they are rented, filled, sent and returned on the loop. In ThreadPool mode Kestrel's side
        // runs on pool threads, and the cache would hold nothing.
        if (options.Scheduling == AioSchedulingMode.Loop)
        {
            pool = loop.BlockCacheFor(pool);
        }

        MemoryPool = pool;
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;
        ConnectionClosed = _closedSource.Token;

        _waitForData = options.WaitForDataBeforeAllocatingBuffer;
        var schedulers = ConnectionSchedulers.For(options.Scheduling, loop);
        long maxRead = options.MaxReadBufferSize ?? 0;
        long maxWrite = options.MaxWriteBufferSize ?? 0;
        int minSegment = pool.MaxBufferSize > 0 ? Math.Min(pool.MaxBufferSize, MinAllocBufferSize) : MinAllocBufferSize;
        _input = new Pipe(new PipeOptions(pool, schedulers.InputReader, schedulers.InputWriter, maxRead, maxRead / 2, minSegment, useSynchronizationContext: false));

        // A large response goes out in 64 KiB blocks after its first few small ones (OutputBlockPool).
        MemoryPool<byte> outputPool = pool;
        if (OutputBlockPool.Helps(pool))
        {
            _outputBlocks = new OutputBlockPool(pool, loop.LargeBlocks);
            outputPool = _outputBlocks;
        }

        _output = new Pipe(new PipeOptions(outputPool, schedulers.OutputReader, schedulers.OutputWriter, maxWrite, maxWrite / 2, minSegment, useSynchronizationContext: false));
        PipeReader input = options.Scheduling == AioSchedulingMode.Loop ? new LoopEntryPipeReader(_input.Reader, loop) : _input.Reader;
        _transportInput = input;
        Transport = new DuplexPipe(input, _output.Writer);

        _features = new AioConnectionFeatures(this);
    }

    public override string ConnectionId
    {
        // Made on first use, which may be the loop's (a reset logged) racing Kestrel's: one id wins, so logs agree.
        get => Volatile.Read(ref _connectionId)
            ?? Interlocked.CompareExchange(ref _connectionId, "aio-" + Interlocked.Increment(ref s_lastId).ToString("x", System.Globalization.CultureInfo.InvariantCulture), null)
            ?? _connectionId!;
        set => _connectionId = value;
    }

    public override IFeatureCollection Features => _features;

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new Dictionary<object, object?>();
        set => _items = value;
    }

    public override IDuplexPipe Transport { get; set; }

    public override CancellationToken ConnectionClosed { get; set; }

    public MemoryPool<byte> MemoryPool { get; }

    public Socket Socket => _socket.Socket;

    /// <summary>The loop whose thread runs this connection's pumps (tests check which group serves).</summary>
    internal AioContext Loop => _loop.Context;

    /// <summary>The output pipe's pool when it mixes in large blocks (<see cref="OutputBlockPool"/>); for tests.</summary>
    internal OutputBlockPool? OutputBlocks => _outputBlocks;

    /// <summary>Starts the pumps on the socket's loop, so their socket completions continue there without a hop.</summary>
    public void Start()
    {
        _loop.Schedule(static state => ((AioConnection)state!).StartPumps(), this);
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        Shutdown(abortReason);

        // Ends the send pump's pending read, so nothing more is sent.
        _output.Reader.CancelPendingRead();
    }

    public override void Abort() => Abort(new ConnectionAbortedException("The connection was aborted by the application."));

    public override async ValueTask DisposeAsync()
    {
        // Kestrel's ends: the send pump sees the output complete and shuts the socket down, which ends the receive pump.
        // The pipes this connection made, not whatever Transport is now (middleware may have replaced it).
        _transportInput.Complete();
        _output.Writer.Complete();
        try
        {
            await _ended.Task.ConfigureAwait(false);
        }
        finally
        {
            Shutdown(null);

            // Returns once the kernel let go of every buffer and the fd is closed.
            await _socket.DisposeAsync().ConfigureAwait(false);
            ReleaseClosedSource();
        }
    }

    private void StartPumps()
    {
        _ = ReceivePumpAsync();
        _ = SendPumpAsync();
    }

    /// <summary>
    /// Once: graceful (<paramref name="reason"/> null) shuts the socket down both ways, so the peer gets a FIN after
    /// the data and the receive pump ends; otherwise the socket is reset (RST), like Sockets with FinOnError off.
    /// </summary>
    private void Shutdown(Exception? reason)
    {
        bool close = false;
        lock (_shutdownLock)
        {
            if (_shutdown)
            {
                return;
            }

            _shutdown = true;
            _aborted = reason is not null;
            _shutdownReason = reason ?? new ConnectionAbortedException("The Aio transport's send loop completed gracefully.");
            if (reason is null)
            {
                // shutdown(SHUT_RDWR) sends the FIN after the data and ends the pending receive with 0 bytes, so the
                // receive pump ends the way it does on the peer's FIN, and closes the socket then (CloseAfterReceive).
                // Closing it here cancelled that receive instead, and the exception the receive pump then caught
                // cost ~7 % of the server's CPU under connection churn (one per connection).
                close = _receiveDone;
                try
                {
                    _socket.Shutdown(SocketShutdown.Both);
                }
                catch (SocketException)
                {
                    // Already reset or not connected: closing is all that is left, and it ends the receive.
                    close = true;
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }

        if (_aborted || close)
        {
            CloseSocket();
        }
    }

    /// <summary>
    /// Resets (after an abort) or closes the socket: outside the lock, and on the loop not inside the caller. Closing
    /// ends a pending receive, whose continuation on the loop completes Kestrel's input and so runs Kestrel's code; run
    /// inside Abort, that code would nest in the caller's (Kestrel calls Abort holding its own locks) and under this
    /// connection's lock. On the loop the close waits for the loop's bottom-half phase; elsewhere it starts at once.
    /// </summary>
    private void CloseSocket()
    {
        if (AioContext.Current == _loop.Context)
        {
            _loop.Deferred.Schedule(static state => _ = ((AioConnection)state!).CloseSocketNow(), this);
        }
        else
        {
            _ = CloseSocketNow();
        }
    }

    /// <returns>The orderly close, or null for a reset.</returns>
    private Task? CloseSocketNow()
    {
        if (_aborted)
        {
            _socket.Abort();
            return null;
        }

        // Started, not waited for here: a synchronous Dispose off the loop would wait for the close.
        return _socket.DisposeAsync().AsTask();
    }

    /// <summary>
    /// The receive pump ended: after a graceful shutdown nothing is pending on the socket any more, so it is closed
    /// now rather than only in <see cref="DisposeAsync"/> (a client connection whose owner never disposes it keeps
    /// no fd, as with Sockets); otherwise a later <see cref="Shutdown"/> closes it.
    /// </summary>
    /// <returns>The orderly close this started, if any (null: none, or a reset, which nobody waits for).</returns>
    private Task? CloseAfterReceive()
    {
        bool shutdown;
        lock (_shutdownLock)
        {
            _receiveDone = true;
            shutdown = _shutdown;
        }

        if (!shutdown)
        {
            return null;
        }

        // The pump's own ending, not a caller's: at once (an abort's reset is not turned into an orderly close).
        return CloseSocketNow();
    }

    /// <summary>
    /// Runs the <see cref="ConnectionClosed"/> callbacks on the pool, never on the loop (they are user code that may
    /// block). With <paramref name="after"/>, the orderly close the receive pump just started, they run once it
    /// finished: that close completes on the pool anyway, and its continuation then does the callbacks and, through
    /// <see cref="EndOne"/>, resumes a waiting <see cref="DisposeAsync"/>, whose own wait for the close is then over:
    /// one work item where there were two or three (the callbacks, and DisposeAsync resumed after the receive pump's end
    /// and after the close). Under connection churn every connection ends this way, and pool threads (their wake-ups,
    /// their spinning before they sleep) took about two fifths of the server's CPU samples.
    /// </summary>
    private void FireConnectionClosed(Task? after)
    {
        if (Interlocked.Exchange(ref _closedFired, 1) != 0)
        {
            return;
        }

        if (after is { IsCompleted: false })
        {
            // Unsafe, like the work item below: the callbacks run with no execution context of the loop's. The close's
            // task runs its continuations asynchronously, so this is a pool work item, also if it completed meanwhile.
            after.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(RunConnectionClosed);
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.RunConnectionClosed(), this, preferLocal: false);
        }
    }

    /// <summary>Pool thread, in the connection's own work item: the callbacks, then the third end.</summary>
    private void RunConnectionClosed()
    {
        try
        {
            _closedSource.Cancel();
        }
        catch (Exception ex)
        {
            // A callback threw (Cancel gathers them): unhandled on a pool thread it would end the process.
            Log.ConnectionClosedCallbackException(_logger, ex, ConnectionId);
        }
        finally
        {
            ReleaseClosedSource();
            EndOne(inlineOnPool: true);
        }
    }

    /// <summary>
    /// One of the three ends DisposeAsync waits for. The last completes <see cref="_ended"/>, whose continuation is
    /// Kestrel's code after DisposeAsync: inline only from this connection's own pool work item, otherwise (a pump
    /// ending on the loop, or inside a pipe continuation) queued to the pool, as an asynchronous completion would be.
    /// </summary>
    private void EndOne(bool inlineOnPool)
    {
        if (Interlocked.Decrement(ref _endsLeft) != 0)
        {
            return;
        }

        if (inlineOnPool)
        {
            _ended.TrySetResult();
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(static state => state._ended.TrySetResult(), this, preferLocal: false);
        }
    }

    private void ReleaseClosedSource()
    {
        if (Interlocked.Decrement(ref _closedSourceUsers) == 0)
        {
            _closedSource.Dispose();
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
