using System.Threading.Tasks.Sources;

namespace Aio.Async;

/// <summary>
/// <see cref="ManualResetValueTaskSourceCore{TResult}"/> for a source that its awaiter resets (in <c>GetResult</c>)
/// and that another thread completes: completion is reported to a polling awaiter only once <see cref="SetResult"/>
/// or <see cref="SetException"/> has returned.
/// </summary>
/// <remarks>
/// The core marks itself completed before it looks for the continuation to run. An awaiter that checks
/// <c>IsCompleted</c> in that window sees the result, takes it, resets the core for its next use and registers that
/// use's continuation; the completing thread then finds the new continuation and runs it for a use that has not
/// completed (the awaiter's <c>GetResult</c> throws, or a pooled operation resumes someone else). The window is a few
/// instructions, so it takes a completing thread preempted inside it: rare, and a hang or a spurious
/// <see cref="InvalidOperationException"/> when it happens. With the gate, a polling awaiter in that window sees
/// <see cref="ValueTaskSourceStatus.Pending"/> and registers its continuation instead, which the core then runs exactly
/// once whichever side gets there first. A continuation that the core runs is always past the window, so
/// <c>GetResult</c> checks <see cref="GetCoreStatus"/>, not the gated status.
/// </remarks>
internal struct SignalledTaskSourceCore<TResult>
{
    private ManualResetValueTaskSourceCore<TResult> _core;

    // The version (as ushort, plus one; 0 = none) of the last use whose SetResult/SetException returned.
    private int _signalled;

    /// <summary>See <see cref="ManualResetValueTaskSourceCore{TResult}.RunContinuationsAsynchronously"/>.</summary>
    public bool RunContinuationsAsynchronously
    {
        readonly get => _core.RunContinuationsAsynchronously;
        set => _core.RunContinuationsAsynchronously = value;
    }

    /// <summary>The version of the current use.</summary>
    public readonly short Version => _core.Version;

    /// <summary>Prepares the next use.</summary>
    public void Reset() => _core.Reset();

    /// <summary>Completes the current use with <paramref name="result"/>.</summary>
    public void SetResult(TResult result)
    {
        short version = _core.Version;
        _core.SetResult(result);
        MarkSignalled(version);
    }

    /// <summary>Completes the current use with <paramref name="error"/>.</summary>
    public void SetException(Exception error)
    {
        short version = _core.Version;
        _core.SetException(error);
        MarkSignalled(version);
    }

    /// <summary>The status an awaiter may act on: Pending until the completing call has returned.</summary>
    public ValueTaskSourceStatus GetStatus(short token)
    {
        var status = _core.GetStatus(token);
        return status != ValueTaskSourceStatus.Pending && Volatile.Read(ref _signalled) != Stamp(token)
            ? ValueTaskSourceStatus.Pending
            : status;
    }

    /// <summary>The core's own status (whether a result is there), for <c>GetResult</c>'s misuse check.</summary>
    public readonly ValueTaskSourceStatus GetCoreStatus(short token) => _core.GetStatus(token);

    /// <summary>The result of the use <paramref name="token"/>.</summary>
    public TResult GetResult(short token) => _core.GetResult(token);

    /// <summary>See <see cref="ManualResetValueTaskSourceCore{TResult}.OnCompleted"/>.</summary>
    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);

    private static int Stamp(short version) => (ushort)version + 1;

    private void MarkSignalled(short version)
    {
        // An awaiter whose continuation ran inline inside the call may have reset the core and begun (even completed) a
        // later use: its stamp must not be stepped back to this one, which nobody polls any more.
        if (_core.Version == version)
        {
            // Release: pairs with the read in GetStatus; the core's completed state is visible before the stamp.
            Volatile.Write(ref _signalled, Stamp(version));
        }
    }
}
