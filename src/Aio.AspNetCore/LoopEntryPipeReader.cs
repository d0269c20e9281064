using System.IO.Pipelines;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks.Sources;

namespace Aio.AspNetCore;

/// <summary>
/// Kestrel's input in <see cref="AioSchedulingMode.Loop"/> mode: the connection's input pipe, except that a first read
/// from off the loop moves to the loop and resumes its awaiter there.
/// </summary>
/// <remarks>
/// <para>Kestrel starts every connection on the thread pool. Without this its first request (by then usually in the
/// pipe already) would be parsed and handled there, and the response, the close and the dispose would each hop back
/// to the loop, costing a loop wake-up apiece: under connection churn, where a connection is one request, that is most
/// of the work. With it a connection costs one hop, and the first request runs where every later one runs.</para>
/// <para>The first read is its own <see cref="IValueTaskSource{TResult}"/> and starts the hop only when awaited
/// (<see cref="OnCompleted"/>): a hop started at once could finish before the caller awaited, and the caller would
/// then go on synchronously on the thread pool. Every other member passes straight through.</para>
/// </remarks>
internal sealed class LoopEntryPipeReader : PipeReader, IValueTaskSource<ReadResult>
{
    private const int NotStarted = 0;
    private const int Hopping = 1;
    private const int Done = 2;
    private const int Consumed = 3;

    private readonly PipeReader _inner;
    private readonly LoopPipeScheduler _loop;
    private readonly Action _onInnerRead;

    // Kestrel reads one at a time (a PipeReader rule), so a plain field is enough.
    private bool _entered;
    private int _state;
    private CancellationToken _token;
    private Action<object?>? _continuation;
    private object? _continuationState;
    private ExecutionContext? _executionContext;
    private ValueTask<ReadResult> _innerRead;
    private ReadResult _result;
    private ExceptionDispatchInfo? _error;

    public LoopEntryPipeReader(PipeReader inner, LoopPipeScheduler loop)
    {
        _inner = inner;
        _loop = loop;
        _onInnerRead = OnInnerRead;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_entered || AioContext.Current == _loop.Context)
        {
            _entered = true;
            return _inner.ReadAsync(cancellationToken);
        }

        _entered = true;
        _token = cancellationToken;
        return new ValueTask<ReadResult>(this, 0);
    }

    public override bool TryRead(out ReadResult result) => _inner.TryRead(out result);

    public override void AdvanceTo(SequencePosition consumed) => _inner.AdvanceTo(consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => _inner.AdvanceTo(consumed, examined);

    public override void CancelPendingRead() => _inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => _inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => _inner.CompleteAsync(exception);

    public ValueTaskSourceStatus GetStatus(short token)
    {
        if (Volatile.Read(ref _state) < Done)
        {
            return ValueTaskSourceStatus.Pending;
        }

        return _error switch
        {
            null => ValueTaskSourceStatus.Succeeded,
            { SourceException: OperationCanceledException } => ValueTaskSourceStatus.Canceled,
            _ => ValueTaskSourceStatus.Faulted,
        };
    }

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        if (Interlocked.CompareExchange(ref _state, Hopping, NotStarted) != NotStarted)
        {
            throw new InvalidOperationException("The first read was awaited twice.");
        }

        // No scheduling context is honoured: the point is to resume on the loop.
        _continuation = continuation;
        _continuationState = state;
        if ((flags & ValueTaskSourceOnCompletedFlags.FlowExecutionContext) != 0)
        {
            _executionContext = ExecutionContext.Capture();
        }

        _loop.App.Schedule(static s => ((LoopEntryPipeReader)s!).ReadOnLoop(), this);
    }

    public ReadResult GetResult(short token)
    {
        if (Interlocked.CompareExchange(ref _state, Consumed, Done) != Done)
        {
            throw new InvalidOperationException("The first read has not completed, or its result was already consumed.");
        }

        // Drop the references: the connection lives on, the first read's buffer and error need not.
        var error = _error;
        var result = _result;
        _error = null;
        _result = default;
        error?.Throw();
        return result;
    }

    private void ReadOnLoop()
    {
        try
        {
            _innerRead = _inner.ReadAsync(_token);
        }
        catch (Exception ex)
        {
            Finish(default, ExceptionDispatchInfo.Capture(ex));
            return;
        }

        if (_innerRead.IsCompleted)
        {
            OnInnerRead();
            return;
        }

        // Resumes through the input pipe's reader scheduler: this loop again.
        _innerRead.GetAwaiter().UnsafeOnCompleted(_onInnerRead);
    }

    private void OnInnerRead()
    {
        var read = _innerRead;
        _innerRead = default;
        ReadResult result = default;
        ExceptionDispatchInfo? error = null;
        try
        {
            result = read.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            error = ExceptionDispatchInfo.Capture(ex);
        }

        Finish(result, error);
    }

    private void Finish(ReadResult result, ExceptionDispatchInfo? error)
    {
        _result = result;
        _error = error;
        Volatile.Write(ref _state, Done);
        var continuation = _continuation!;
        var state = _continuationState;
        _continuation = null;
        _continuationState = null;
        if (_executionContext is { } ec)
        {
            _executionContext = null;
            ExecutionContext.Run(ec, static s => { var (c, st) = ((Action<object?>, object?))s!; c(st); }, (continuation, state));
        }
        else
        {
            continuation(state);
        }
    }
}
