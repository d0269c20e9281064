namespace Aio.Async;

/// <summary><c>SubmitAsync</c>: the caller's preparer as an awaitable request returning the raw result, pooled per thread and state type.</summary>
internal sealed class SubmitOperation<TState> : RingOperation
{
    private static readonly SqePreparer<SubmitOperation<TState>> s_prepare = static (ref Sqe sqe, SubmitOperation<TState> op) => op._prepare!(ref sqe, op._state!);

    private SqePreparer<TState>? _prepare;
    private TState? _state;

    public static SubmitOperation<TState> Rent() => OperationPool<SubmitOperation<TState>>.Rent();

    public ValueTask<int> Submit(AioContext ctx, SqePreparer<TState> prepare, TState state, CancellationToken ct)
    {
        _prepare = prepare;
        _state = state;
        Name = "submit";
        ThrowOnNegative = false;
        short version = Version;
        Start(ctx, null, default, default, ct);
        return new ValueTask<int>(this, version);
    }

    protected override void SubmitSelf(AioContext context) => context.AddSqe(s_prepare, this, this);

    protected override void ReturnToPool()
    {
        _prepare = null;
        _state = default;
        OperationPool<SubmitOperation<TState>>.Return(this);
    }
}
