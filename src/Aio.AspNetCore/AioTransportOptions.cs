namespace Aio.AspNetCore;

/// <summary>Options of the Aio Kestrel transport (<see cref="AioWebHostBuilderExtensions.UseAio(Microsoft.AspNetCore.Hosting.IWebHostBuilder, Action{AioTransportOptions})"/>).</summary>
public sealed class AioTransportOptions
{
    /// <summary>The most loops the transport starts.</summary>
    public const int MaxLoopCount = 16;

    private long? _pollMaxNs;
    private int _backlog = 512;
    private long? _maxReadBufferSize = 1024 * 1024;
    private long? _maxWriteBufferSize = 64 * 1024;

    /// <summary>
    /// Loops (IoThreads) serving connections; 0 = <see cref="Environment.ProcessorCount"/>; at most <see cref="MaxLoopCount"/>.
    /// Unused when the host registered an <see cref="IoThreadGroup"/> (Aio.Hosting's <c>AddAio</c>): the transport then
    /// serves on that group's loops.
    /// </summary>
    /// <remarks>
    /// Each loop is woken for the connections it serves; on a small machine whose cores other busy processes share,
    /// fewer loops than cores can serve connection churn better (on two vCPUs shared with the load generator, one loop
    /// served it at ~1.07x two loops' rate and ~0.87x their CPU per connection).
    /// </remarks>
    public int LoopCount { get; set; }

    /// <summary>Where Kestrel's pipe continuations run; see <see cref="AioSchedulingMode"/>.</summary>
    public AioSchedulingMode Scheduling { get; set; }

    /// <summary>The listen backlog (0, as Kestrel's Sockets transport takes it, is the kernel's smallest: one).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative value.</exception>
    public int Backlog
    {
        get => _backlog;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _backlog = value;
        }
    }

    /// <summary>
    /// One SO_REUSEPORT listener per loop for TCP end points: the kernel spreads connections over the loops and each is
    /// served where it was accepted, with no hand-over (the single listener, the default, accepts on the first loop and
    /// hands connections out round robin). A port already held by anyone, another Aio server with this option
    /// included, still fails the bind with AddressInUseException. Unix-domain end points, and transports with one loop,
    /// always use one listener.
    /// </summary>
    public bool ListenerPerLoop { get; set; }

    /// <summary>TCP_NODELAY on accepted TCP connections.</summary>
    public bool NoDelay { get; set; } = true;

    /// <summary>
    /// Waits for data with a zero-byte receive before taking a buffer from the memory pool for it (the name and default
    /// of Kestrel's Sockets option): an idle keep-alive connection then holds no pool block. The wait costs one more
    /// receive call per read, answered at once when data is already queued.
    /// </summary>
    public bool WaitForDataBeforeAllocatingBuffer { get; set; } = true;

    /// <summary>Bytes received and not yet consumed by Kestrel before the transport stops reading (null or 0: no limit).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative value (refused here, not by every connection later).</exception>
    public long? MaxReadBufferSize
    {
        get => _maxReadBufferSize;
        set => _maxReadBufferSize = NonNegative(value);
    }

    /// <summary>Bytes written by Kestrel and not yet sent before its flushes wait (null or 0: no limit).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative value (refused here, not by every connection later).</exception>
    public long? MaxWriteBufferSize
    {
        get => _maxWriteBufferSize;
        set => _maxWriteBufferSize = NonNegative(value);
    }

    /// <summary>
    /// The loops' adaptive busy-poll ceiling in nanoseconds (QEMU's <c>poll-max-ns</c>): null = the IoThread default
    /// (<see cref="IoThread.DefaultPollMaxNs"/>), 0 = never poll (a loop sleeps as soon as it has nothing to run).
    /// Set on the transport's own loops before they accept; unused when the host registered an
    /// <see cref="IoThreadGroup"/> (its options govern).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative value.</exception>
    public long? PollMaxNs
    {
        get => _pollMaxNs;
        set
        {
            if (value < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "PollMaxNs must not be negative.");
            }

            _pollMaxNs = value;
        }
    }

    /// <summary>How the loops' contexts are created (tests force a monitor without io_uring through it).</summary>
    internal AioContextOptions? ContextOptions { get; set; }

    /// <summary>The loop count actually used: <see cref="LoopCount"/> with 0 resolved and the cap applied.</summary>
    internal int EffectiveLoopCount => Math.Clamp(LoopCount <= 0 ? Environment.ProcessorCount : LoopCount, 1, MaxLoopCount);

    private static long? NonNegative(long? value, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(value))] string? name = null)
    {
        if (value < 0)
        {
            throw new ArgumentOutOfRangeException(name, value, "A buffer limit must not be negative (null or 0: no limit).");
        }

        return value;
    }
}
