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

    public KernelRequest(IKernelRequestOwner owner, AioContext context)
    {
        _owner = owner;
        _context = context;
    }

    /// <summary>The kernel holds a request of this slot (until its last completion or its abandonment).</summary>
    public bool InFlight { get; private set; }

    /// <summary>A cancel was asked for the request in flight.</summary>
    public bool CancelRequested => _cancelWanted;

    /// <summary>Submits a request prepared by <paramref name="prepare"/> (loop thread).</summary>
    public void Submit<TState>(SqePreparer<TState> prepare, TState state)
    {
        InFlight = true;
        _cancelWanted = false;
        _userData = 0;
        try
        {
            _context.AddSqe(prepare, state, this);
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
            _context.AddSqe(s_prepareCancel, _userData, IgnoredCompletion.Instance);
        }
    }

    internal override void OnSubmitted(ulong userData)
    {
        _userData = userData;
        if (_cancelWanted)
        {
            // Cancelled before the loop handed it to the ring.
            _cancelWanted = false;
            Cancel();
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

    internal override void OnAbandoned(bool kernelReleased)
    {
        InFlight = false;
        _userData = 0;
        _owner.OnKernelAbandoned(this, kernelReleased);
    }
}
