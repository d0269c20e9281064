using System.Buffers;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using Aio.Interop;

namespace Aio.Async;

/// <summary>
/// A pooled, awaitable ring request: the <see cref="CqeHandler"/> and the <see cref="IValueTaskSource{TResult}"/> in
/// one object, so an operation awaited on the loop allocates nothing in steady state.
/// </summary>
/// <remarks>
/// <para><b>Where continuations run.</b> Awaited on the loop (the context's SynchronizationContext is current), the
/// continuation runs inline on the loop when the completion is delivered (QEMU aio_co_wake): the context is not
/// captured, because delivery already happens on it. Awaited anywhere else, the continuation goes to the captured
/// context, or the thread pool; it never runs user code from another thread on the loop.</para>
/// <para><b>Memory.</b> The buffer stays pinned until the kernel's completion has arrived, including after a
/// cancellation; only then is the operation reset and returned to its pool.</para>
/// </remarks>
internal abstract class RingOperation : CqeHandler, IValueTaskSource<int>, IValueTaskSource
{
    private ManualResetValueTaskSourceCore<int> _core;
    private CancellationTokenRegistration _registration;
    private CancellationToken _token;
    private MemoryHandle _pin;
    private SafeHandle? _file;
    private AioContext? _context;
    private ulong _userData;
    private bool _cancelRequested;
    private int _state;   // 0 idle, 1 in flight, 2 completed

    /// <summary>The operation's name in error messages (<c>"read"</c>, <c>"write"</c>, ...).</summary>
    protected string Name { get; set; } = "io";

    /// <summary>Whether a negative result is an error (false for SubmitAsync, which returns it raw).</summary>
    protected bool ThrowOnNegative { get; set; } = true;

    protected AioContext Context => _context!;

    protected short Version => _core.Version;

    /// <summary>Starts the request: pins, registers cancellation, adds the SQE. Any thread.</summary>
    protected void Start(AioContext context, SafeHandle? file, MemoryHandle pin, CancellationToken ct)
    {
        _context = context;
        _pin = pin;
        _userData = 0;
        _cancelRequested = false;
        _token = ct;
        _state = 1;
        if (file is not null)
        {
            bool added = false;
            file.DangerousAddRef(ref added);
            _file = file;
        }

        try
        {
            SubmitSelf(context);
        }
        catch
        {
            Release();
            _state = 0;
            throw;
        }

        if (ct.CanBeCanceled)
        {
            _registration = ct.UnsafeRegister(static s => ((RingOperation)s!).RequestCancel(), this);
        }
    }

    /// <summary>Calls <c>context.AddSqe</c> with this operation as state and handler.</summary>
    protected abstract void SubmitSelf(AioContext context);

    /// <summary>Returns the operation to its pool once the awaiter has the result.</summary>
    protected abstract void ReturnToPool();

    /// <summary>
    /// Home thread, on each completion: return true after resubmitting to keep the operation going, or adjust
    /// <paramref name="result"/> (the value or <c>-errno</c> the awaiter will see) and return false to finish.
    /// </summary>
    protected virtual bool Continue(ref int result) => false;

    /// <summary>Adds this operation's SQE again (home thread).</summary>
    protected void Resubmit() => SubmitSelf(Context);

    /// <summary>The fd of the file handle the operation was started with.</summary>
    protected int FileDescriptor => (int)_file!.DangerousGetHandle();

    internal override void OnSubmitted(ulong userData)
    {
        _userData = userData;
        if (_cancelRequested)
        {
            SubmitCancel();
        }
    }

    protected internal override void OnCompletion(in Cqe cqe)
    {
        if (cqe.HasMore)
        {
            return;
        }

        int res = cqe.Result;
        if (!(res == -Errno.ECANCELED && _cancelRequested) && Continue(ref res))
        {
            // Resubmitted (a short transfer or EAGAIN): still in flight, buffer still pinned.
            return;
        }

        _registration.Dispose();
        Release();
        _state = 2;
        if (res == -Errno.ECANCELED && _cancelRequested)
        {
            _core.SetException(new OperationCanceledException(_token));
        }
        else if (res < 0 && ThrowOnNegative)
        {
            _core.SetException(new AioException(-res, Name));
        }
        else
        {
            _core.SetResult(res);
        }
    }

    internal override void OnAbandoned(bool kernelReleased)
    {
        if (_state != 1)
        {
            return;
        }

        _registration.Dispose();
        if (kernelReleased)
        {
            Release();
        }
        else
        {
            // The kernel may still write into the buffer while it tears the ring down: keep it pinned for good.
            _pin = default;
            _file = null;
        }

        _state = 2;
        _core.SetException(new ObjectDisposedException(nameof(AioContext), "The AioContext was disposed with the operation in flight."));
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        bool onLoop = _context is { } ctx && SynchronizationContext.Current == ctx.SynchronizationContext && ctx.IsOnHomeThread;
        if (onLoop)
        {
            // Completion is delivered on this loop: run the continuation inline there (no Post, no allocation).
            flags &= ~ValueTaskSourceOnCompletedFlags.UseSchedulingContext;
        }

        // Off the loop, never run the awaiter's code inline on the loop thread.
        _core.RunContinuationsAsynchronously = !onLoop;
        _core.OnCompleted(continuation, state, token, flags);
    }

    public int GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            _state = 0;
            _context = null;
            _registration = default;
            _token = default;
            ReturnToPool();
        }
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    private void RequestCancel()
    {
        // Any thread: the cancel SQE is added from the loop, where the request's user_data is known.
        var ctx = _context;
        if (ctx is null || _state != 1)
        {
            return;
        }

        // The version pins this use of the pooled object: by the time the loop runs the cancel, the operation may have
        // completed and been rented again for another request, which must not be cancelled.
        short version = _core.Version;
        try
        {
            ctx.ScheduleOneShot(() => CancelOnLoop(version));
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void CancelOnLoop(short version)
    {
        if (_state != 1 || _core.Version != version)
        {
            return;
        }

        _cancelRequested = true;
        if (_userData != 0)
        {
            SubmitCancel();
        }
    }

    private void SubmitCancel()
    {
        ulong target = _userData;
        Context.AddSqe(static (ref Sqe sqe, ulong t) => sqe.PrepCancel(t), target, CancelCompletion.Instance);
    }

    private void Release()
    {
        _pin.Dispose();
        _pin = default;
        if (_file is { } f)
        {
            _file = null;
            f.DangerousRelease();
        }
    }

    /// <summary>The cancel request's own completion: nothing to do (the target's completion tells the story).</summary>
    private sealed class CancelCompletion : CqeHandler
    {
        public static readonly CancelCompletion Instance = new();

        protected internal override void OnCompletion(in Cqe cqe)
        {
        }
    }
}
