using Aio.Monitors;

namespace Aio;

/// <summary>io_uring requests (AddSqe / CqeHandler). Filled in by the io_uring monitor.</summary>
public sealed partial class AioContext
{
    /// <summary>True when <see cref="AddSqe{TState}"/> and ring-backed async operations are available.</summary>
    public bool HasIoUring => false;

    /// <summary>The ring's setup in force; null without io_uring.</summary>
    public IoUringSetup? IoUring => null;

    /// <summary>
    /// Fills one submission entry through <paramref name="prepare"/> and sends it to the kernel by the end of the
    /// current iteration; <paramref name="handler"/> runs on the home thread for its completion(s). Any thread.
    /// </summary>
    /// <exception cref="NotSupportedException"><see cref="HasIoUring"/> is false.</exception>
    public void AddSqe<TState>(SqePreparer<TState> prepare, TState state, CqeHandler handler)
    {
        ArgumentNullException.ThrowIfNull(prepare);
        ArgumentNullException.ThrowIfNull(handler);
        ThrowIfDisposed();
        throw new NotSupportedException($"AioContext '{Name}' has no io_uring (monitor {Monitor}).");
    }

    private IFdMonitor? CreateIoUringMonitor(AioContextOptions options, bool explicitRequest)
    {
        if (options.SimulatedIoUringErrno != 0 && !explicitRequest)
        {
            return null;
        }

        if (explicitRequest)
        {
            throw new AioException("The io_uring monitor is not available in this build.", Interop.Errno.ENOSYS);
        }

        return null;
    }

    private void OnHomeThreadBound()
    {
    }

    private bool HasPendingCompletions() => false;

    private bool DeliverCompletions() => false;

    private void DisposeRequests()
    {
    }

    private bool IsHandlerInUseByMonitor(AioHandler handler) => false;

    private (long Submitted, long Reaped, long Enters) RingCounters() => (0, 0, 0);
}
