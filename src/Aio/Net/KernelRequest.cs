using Aio.Uring;

namespace Aio.Net;

/// <summary>
/// One slot for a ring request of a socket (its receive, its send, its accept...), reused for every request of that
/// slot: it knows whether the kernel holds a request and under which user_data, so the socket can cancel it and, when
/// closing, wait until the kernel let go. Loop thread only.
/// </summary>
internal sealed class KernelRequest : CqeHandler
{
    private static readonly SqePreparer<ulong> s_prepareCancel = static (ref Sqe sqe, ulong target) => sqe.PrepCancel(target);

    private readonly IKernelRequestOwner _owner;
    private readonly AioContext _context;
    private ulong _userData;
    private bool _cancelWanted;
    private Action? _retryCancel;

    public KernelRequest(IKernelRequestOwner owner, AioContext context)
    {
        _owner = owner;
        _context = context;
    }

    /// <summary>The kernel holds a request of this slot (until its last completion or its abandonment).</summary>
    public bool InFlight { get; private set; }

    /// <summary>A cancel was asked for the request in flight.</summary>
    public bool CancelRequested => _cancelWanted;

    /// <summary>
    /// Submits a request prepared by <paramref name="prepare"/> (loop thread). False when the ring refused it for now
    /// (a full submission queue the kernel would not take: EAGAIN/EBUSY/ENOMEM, with nothing taken): the caller tries
    /// again in the next iteration.
    /// </summary>
    public bool Submit<TState>(SqePreparer<TState> prepare, TState state)
    {
        InFlight = true;
        _cancelWanted = false;
        _userData = 0;
        try
        {
            _context.AddSqe(prepare, state, this);
            return true;
        }
        catch (AioException)
        {
            InFlight = false;
            return false;
        }
        catch
        {
            InFlight = false;
            throw;
        }
    }

    /// <summary>Asks the kernel to cancel the request in flight (once); its completion still arrives.</summary>
    public void Cancel()
    {
        if (!InFlight || _cancelWanted)
        {
            return;
        }

        _cancelWanted = true;
        if (_userData != 0)
        {
            SendCancel();
        }
    }

    private void SendCancel()
    {
        try
        {
            _context.AddSqe(s_prepareCancel, _userData, IgnoredCompletion.Instance);
        }
        catch (ObjectDisposedException)
        {
            // The context is being disposed: its teardown ends every request, this one included.
        }
        catch (AioException)
        {
            // The ring refused it for now: try again next iteration (a close waits for this cancel's effect).
            try
            {
                _context.ScheduleOneShot(_retryCancel ??= RetryCancel);
            }
            catch (ObjectDisposedException)
            {
                // The context is going away: it ends every request itself.
            }
        }
    }

    private void RetryCancel()
    {
        if (InFlight && _cancelWanted && _userData != 0)
        {
            SendCancel();
        }
    }

    internal override void OnSubmitted(ulong userData)
    {
        _userData = userData;
        if (_cancelWanted)
        {
            // Cancelled before the loop handed it to the ring.
            SendCancel();
        }
    }

    protected internal override void OnCompletion(in Cqe cqe)
    {
        if (!cqe.HasMore)
        {
            InFlight = false;
            _userData = 0;
        }

        _owner.OnKernelCompletion(this, in cqe);
    }

    internal override void OnAbandonedCompletion(in Cqe cqe) => _owner.OnKernelAbandonedCompletion(this, in cqe);

    internal override void OnAbandoned(bool kernelReleased)
    {
        InFlight = false;
        _userData = 0;
        _owner.OnKernelAbandoned(this, kernelReleased);
    }
}
