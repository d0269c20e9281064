namespace Aio.Async;

/// <summary>A <see cref="AioContext.ScheduleOneShot{TState}(Action{TState}, TState, CancellationToken)"/> callback and its state.</summary>
/// <typeparam name="TState">The state's type.</typeparam>
internal sealed class OneShotCallback<TState> : LoopWorkItem
{
    private readonly Action<TState> _callback;
    private readonly TState _state;

    public OneShotCallback(Action<TState> callback, TState state)
    {
        _callback = callback;
        _state = state;
    }

    protected override void Execute() => _callback(_state);

    // A plain one-shot has nobody to tell: cancelled or abandoned, it simply never runs.
    protected override void OnCancelled(CancellationToken cancellationToken)
    {
    }

    protected override void OnAbandoned()
    {
    }
}
