namespace Aio;

/// <summary>
/// One iteration's batch of bottom halves in FIFO order (QEMU's <c>BHListSlice</c>). Batches queue on the
/// context so that a nested <c>Poll</c> finishes its parent's batch before starting its own.
/// </summary>
internal sealed class BottomHalfBatch
{
    public BottomHalf? Head { get; set; }
}
