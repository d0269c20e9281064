namespace Aio.Monitors;

/// <summary>The typed form of <see cref="PendingSqe"/>: keeps the caller's state unboxed.</summary>
internal sealed class PendingSqeOf<TState> : PendingSqe
{
    private readonly SqePreparer<TState> _prepare;
    private readonly TState _state;

    public PendingSqeOf(SqePreparer<TState> prepare, TState state, CqeHandler handler)
        : base(handler)
    {
        _prepare = prepare;
        _state = state;
    }

    public override void Prepare(ref Sqe sqe) => _prepare(ref sqe, _state);
}
