using System.IO.Pipelines;

namespace Aio.Net;

/// <summary>
/// The input end <see cref="SocketPipe"/> hands out: the pipe's own reader, plus a signal when the application completes
/// it. The receive pump is usually waiting in the socket's receive, where a completed reader is only noticed at the
/// next flush, that is when the peer next sends; a silent peer would keep the socket open for good.
/// </summary>
internal sealed class SocketPipeReader : PipeReader
{
    private readonly PipeReader _inner;
    private readonly Action _onCompleted;

    public SocketPipeReader(PipeReader inner, Action onCompleted)
    {
        _inner = inner;
        _onCompleted = onCompleted;
    }

    public override void AdvanceTo(SequencePosition consumed) => _inner.AdvanceTo(consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => _inner.AdvanceTo(consumed, examined);

    public override void CancelPendingRead() => _inner.CancelPendingRead();

    public override void Complete(Exception? exception = null)
    {
        _inner.Complete(exception);
        _onCompleted();
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) => _inner.ReadAsync(cancellationToken);

    public override bool TryRead(out ReadResult result) => _inner.TryRead(out result);
}
