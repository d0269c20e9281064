using Aio.Diagnostics;
using Aio.Interop;
using Aio.Monitors;

namespace Aio;

/// <summary>
/// An event loop (QEMU's <c>AioContext</c>) that watches file descriptors, runs bottom halves and timers, busy-polls
/// adaptively before it sleeps and, where the kernel allows io_uring, submits kernel requests for any thread. One
/// iteration is <see cref="Poll(bool)"/>; the first thread that calls it becomes the context's home thread, the only
/// one that runs its callbacks. Other threads may register fd handlers, schedule bottom halves, arm timers and add
/// requests at any time: each call takes effect within one iteration, wakes a sleeping loop and never waits for it.
/// Something must run the loop, an <see cref="IoThread"/>, a thread calling <see cref="Poll(bool)"/>, or an outer main
/// loop through <see cref="Source"/>: on a context whose loop nobody runs, an awaited ring operation never completes.
/// </summary>
public sealed partial class AioContext : IDisposable, IAsyncDisposable
{
    [ThreadStatic]
    private static AioContext? t_current;

    private static int s_unnamed;

    private readonly HandlerTable _handlers = new();
    private readonly Func<AioHandler, bool> _monitorHoldsHandler;
    private readonly EventNotifier _notifier;
    private readonly AioHandler _notifierHandler;
    private readonly bool _autoMonitor;
    private IFdMonitor _monitor;
    private bool _epollDisabled;
    private int _homeThreadId;
    private int _pollDepth;

    private AioContext(AioContextOptions options)
    {
        ThrowIfPlatformUnsupported();
        ValidateOptions(options);
        Name = options.Name ?? "aio-" + Interlocked.Increment(ref s_unnamed).ToString(System.Globalization.CultureInfo.InvariantCulture);
        _autoMonitor = options.Monitor is null;
        _epollSweepInterval = options.EpollSweepInterval;
        _loopNotRunningDelay = options.LoopNotRunningDelay;
        _pollMaxNs = options.PollMaxNs;
        _pollGrow = options.PollGrow;
        _pollShrink = options.PollShrink;
        _notifier = new EventNotifier();
        _monitorHoldsHandler = h => _monitor!.HoldsHandler(h);
        try
        {
            _monitor = CreateMonitor(options);
            _requests = _monitor.Requests;
            SocketsUseRing = RunsSockets(_requests?.Ring);
            SocketIoDontWait = options.SocketIoDontWait;
            _notifierHandler = new AioHandler(_notifier.Fd, DrainNotifier, null, PollNotified, static () => { }, isInternal: true);
            lock (_handlers.Sync)
            {
                _handlers.Swap(_notifier.Fd, _notifierHandler);
                _monitor.Update(_notifier.Fd, null, _notifierHandler);
            }
        }
        catch
        {
            // Whatever monitor was built (its epoll fd or ring) goes with the half-built context.
            _monitor?.Dispose();
            if (_requests is not null)
            {
                ReleaseIoUringSlot();
            }

            _notifier.Dispose();
            throw;
        }

        _synchronizationContext = new Async.AioSynchronizationContext(this);
        _taskScheduler = new Async.AioTaskScheduler(this);
        AioEventSource.Log.MonitorSelected(Name, _monitor.Kind.ToString());
        AioMetrics.EnsureCreated();
        ContextRegistry.Add(this);
        WatchForStalls(options);
    }

    /// <summary>The context whose loop runs on this thread: a <see cref="Poll(bool)"/> in progress, or an IoThread's.</summary>
    public static AioContext? Current => t_current;

    /// <summary>The monitor in use now (poll(2) may have become epoll).</summary>
    public FdMonitorKind Monitor => _monitor.Kind;

    /// <summary>The name from the options, or a generated one.</summary>
    public string Name { get; }

    /// <summary>Creates a context; see <see cref="AioContextOptions.Monitor"/> for how its monitor is chosen.</summary>
    /// <exception cref="AioException">The requested monitor cannot be set up, or io_uring is all-or-none in this process.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="PlatformNotSupportedException">Not Linux on x86_64 or arm64.</exception>
    public static AioContext Create(AioContextOptions? options = null) => new(options ?? new AioContextOptions());

    /// <summary>Live fd handlers, the context's own notifier included (for tests).</summary>
    internal int HandlerCount => _handlers.Count;

    /// <summary>Removed handlers not yet reclaimed (for tests).</summary>
    internal int DeletedHandlerCount => _handlers.DeletedCount;

    /// <summary>
    /// True on the context's home thread: the thread its <see cref="IoThread"/> runs, or the first that called
    /// <see cref="Poll(bool)"/> or drove its <see cref="Source"/>. False everywhere before any thread became it. (The
    /// home thread is the only one that may run the loop; elsewhere hand work over with <see cref="InvokeAsync(Func{Task})"/>,
    /// <see cref="ScheduleOneShot(Action)"/> or <see cref="Notify"/>.)
    /// </summary>
    public bool IsOnHomeThread => _homeThreadId == Environment.CurrentManagedThreadId;

    private static void ValidateOptions(AioContextOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(options.PollMaxNs, nameof(options.PollMaxNs));
        ArgumentOutOfRangeException.ThrowIfNegative(options.PollGrow, nameof(options.PollGrow));
        ArgumentOutOfRangeException.ThrowIfNegative(options.PollShrink, nameof(options.PollShrink));
        if (options.RingEntries is < 1 or > 32768)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.RingEntries, "RingEntries must be between 1 and 32768.");
        }

        ValidateStallThreshold(options);
        if (options.Monitor is { } m && !Enum.IsDefined(m))
        {
            throw new ArgumentOutOfRangeException(nameof(options), m, "Unknown monitor kind.");
        }
    }

    /// <summary>
    /// Linux on x86_64 or arm64 only: elsewhere libc has no eventfd or io_uring (a DllNotFoundException or
    /// EntryPointNotFoundException at the first call), and on other Linux architectures the kernel structures this
    /// library lays out by hand (stat, open flags) differ.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">Not Linux on x86_64 or arm64.</exception>
    private static void ThrowIfPlatformUnsupported()
    {
        var architecture = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture;
        if (!OperatingSystem.IsLinux() || architecture is not (System.Runtime.InteropServices.Architecture.X64 or System.Runtime.InteropServices.Architecture.Arm64))
        {
            throw new PlatformNotSupportedException(
                $"Aio runs on Linux on x86_64 or arm64; this is {System.Runtime.InteropServices.RuntimeInformation.OSDescription} on {architecture}.");
        }
    }

    /// <summary>
    /// An <see cref="IoThread"/> runs this loop until it is disposed: a thread that is no loop's may block on work the
    /// loop finishes (a synchronous Dispose of a socket waiting for its close) without deadlocking.
    /// </summary>
    internal bool RunByIoThread { get; private set; }

    /// <summary>An IoThread's context: bound to the calling thread now, and <see cref="Current"/> there for good.</summary>
    internal void BindAsIoThread()
    {
        RunByIoThread = true;
        BindHomeThread();
        t_current = this;
        SynchronizationContext.SetSynchronizationContext(_synchronizationContext);
    }

    private void BindHomeThread()
    {
        int me = Environment.CurrentManagedThreadId;
        int home = Interlocked.CompareExchange(ref _homeThreadId, me, 0);
        if (home == 0)
        {
            OnHomeThreadBound();
            return;
        }

        if (home != me)
        {
            throw new InvalidOperationException(
                $"AioContext '{Name}' belongs to thread {home}; Poll was called from thread {me}. Use Notify, ScheduleOneShot or InvokeAsync to hand work to it.");
        }
    }

    private void DisposeCore()
    {
        lock (_handlers.Sync)
        {
            var all = new List<AioHandler>();
            _handlers.CopyTo(all);
            foreach (var h in all)
            {
                _handlers.Swap(h.Fd, null);
            }
        }

        // Every step runs even if one before it throws (an abandoned bottom half's callback, a bug): a step skipped
        // would leak the ring's, the monitor's or the notifier's fd, or strand what waits on the network state. The
        // first exception is rethrown once all have run, the end of the teardown (closes of sockets that outlive the
        // loop) included.
        Exception? first = null;
        RunCollecting(DisposeBottomHalves, ref first);
        RunCollecting(_monotonicTimers.Clear, ref first);
        RunCollecting(_wallClockTimers.Clear, ref first);
        RunCollecting(DisposeRequestsKeepingBuffersIfThrown, ref first);
        RunCollecting(DisposeNet, ref first);
        RunCollecting(DisposePeriodicTimers, ref first);
        RunCollecting(_monitor.Dispose, ref first);
        RunCollecting(_notifier.Dispose, ref first);
        RunCollecting(EndTeardown, ref first);
        ThrowIfAny(first);
    }

    private void OnInvalidFd(AioHandler handler)
    {
        lock (_handlers.Sync)
        {
            if (_handlers.Find(handler.Fd) != handler)
            {
                return;
            }

            _handlers.Swap(handler.Fd, null);
            _monitor.Update(handler.Fd, handler, null);
        }

        AioEventSource.Log.InvalidFdRemoved(this, handler.Fd);
    }
}
