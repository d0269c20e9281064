using System.Threading.Tasks.Sources;

namespace Aio.Nbd;

/// <summary>
/// A reusable one-waiter signal carrying a bool (go on / stop): awaiting it allocates nothing, which a pooled worker
/// or a long-lived pump waiting for its next job needs. One <see cref="Set"/> per wait; the waiter's continuation runs
/// inline in <see cref="Set"/> when it awaited without a context (ConfigureAwait(false)).
/// </summary>
internal sealed class NbdSignal : IValueTaskSource<bool>
{
    private ManualResetValueTaskSourceCore<bool> _core;

    // The version (as ushort, plus one) of the last wait whose Set returned. The core marks itself completed before it
    // looks for the continuation: a waiter on another thread that polled IsCompleted in that window could take the
    // value, reset and register its next wait's continuation, which that Set would then run at once. Until Set has
    // returned, a polling waiter therefore sees Pending and registers instead (the core runs it exactly once).
    private int _signalled;

    /// <summary>Completes with the value of the next <see cref="Set"/> (at once if it came first).</summary>
    public ValueTask<bool> WaitAsync() => new(this, _core.Version);

    /// <summary>Wakes the waiter with <paramref name="value"/>.</summary>
    public void Set(bool value)
    {
        short version = _core.Version;
        _core.SetResult(value);
        if (_core.Version == version)
        {
            // Release: pairs with the read in GetStatus. Skipped when the waiter, run inline, has moved on already.
            Volatile.Write(ref _signalled, (ushort)version + 1);
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token)
    {
        bool value = _core.GetResult(token);

        // Ready for the next wait before the waiter goes on, so a Set that follows its next check finds it reset.
        _core.Reset();
        return value;
    }

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token)
    {
        var status = _core.GetStatus(token);
        return status != ValueTaskSourceStatus.Pending && Volatile.Read(ref _signalled) != (ushort)token + 1
            ? ValueTaskSourceStatus.Pending
            : status;
    }

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);
}
