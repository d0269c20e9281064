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

    /// <summary>Completes with the value of the next <see cref="Set"/> (at once if it came first).</summary>
    public ValueTask<bool> WaitAsync() => new(this, _core.Version);

    /// <summary>Wakes the waiter with <paramref name="value"/>.</summary>
    public void Set(bool value) => _core.SetResult(value);

    bool IValueTaskSource<bool>.GetResult(short token)
    {
        bool value = _core.GetResult(token);

        // Ready for the next wait before the waiter goes on, so a Set that follows its next check finds it reset.
        _core.Reset();
        return value;
    }

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);
}
