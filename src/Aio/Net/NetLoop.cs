using Aio.Diagnostics;
using Aio.Uring;

namespace Aio.Net;

/// <summary>
/// What a loop's sockets share: the provided-buffer ring their multishot receives draw from, and what this kernel
/// turned out to support. Loop thread only; created on first use, disposed with the context after the kernel let go
/// of every request.
/// </summary>
internal sealed class NetLoop
{
    /// <summary>Buffers in the loop's ring. With <see cref="BufferSize"/>, 4 MiB per loop.</summary>
    public const int BufferCount = 256;

    /// <summary>Bytes per provided buffer: one completion carries at most this much.</summary>
    public const int BufferSize = 16384;

    private readonly AioContext _context;
    private readonly HashSet<FdReadiness> _waiting = [];
    private BufferRing? _buffers;
    private bool _buffersRefused;
    private bool _leakBuffers;

    public NetLoop(AioContext context) => _context = context;

    /// <summary>Multishot RECV works here (6.0+); cleared when the kernel answers EINVAL.</summary>
    public bool MultishotReceive { get; set; } = true;

    /// <summary>Multishot ACCEPT works here (5.19+); cleared when the kernel answers EINVAL.</summary>
    public bool MultishotAccept { get; set; } = true;

    /// <summary>The loop's provided-buffer ring, registered on first use; null where the kernel refuses one (before 5.19).</summary>
    public BufferRing? Buffers
    {
        get
        {
            if (_buffers is { } registered && registered.Ring != _context.RingForNet)
            {
                // An outer loop swapped the context's ring (IoUringMonitor.PrepareForOuterLoop, only with no request in
                // flight): this one is registered with the old ring. Sockets still holding its buffers give them back
                // to the retired ring, which frees its memory after the last.
                registered.Retire(kernelMayStillWrite: false);
                _buffers = null;
            }

            if (_buffers is null && !_buffersRefused && _context.RingForNet is { } ring)
            {
                _buffers = BufferRing.TryCreate(ring, groupId: 0, BufferCount, BufferSize, out int errno);
                if (_buffers is null)
                {
                    _buffersRefused = true;
                    MultishotReceive = false;
                    AioEventSource.Log.MonitorFallback(_context, "multishot recv", "recv", $"IORING_REGISTER_PBUF_RING failed with errno {errno}");
                }
            }

            return _buffers;
        }
    }

    /// <summary>A socket of the fallback path now waits for readiness through an fd handler.</summary>
    public void Watch(FdReadiness readiness) => _waiting.Add(readiness);

    /// <summary>It no longer waits.</summary>
    public void Forget(FdReadiness readiness) => _waiting.Remove(readiness);

    /// <summary>A receive drawing from the buffer ring was abandoned while the kernel still held it.</summary>
    public void KernelMayStillWrite() => _leakBuffers = true;

    /// <summary>True once <see cref="KernelMayStillWrite"/> was called: the buffer ring's memory is kept for good when retired.</summary>
    public bool KeepsBuffers => _leakBuffers;

    /// <summary>
    /// Retires the buffer ring: its memory is freed once no socket holds a buffer, unless a receive was abandoned in
    /// flight (the context was disposed off its thread): the kernel may then still write into the buffers, so their
    /// memory is left alone for good.
    /// </summary>
    public void Dispose()
    {
        // The fd handlers are gone with the context: operations of the fallback path waiting for readiness would
        // otherwise wait until their socket is disposed.
        foreach (var readiness in _waiting.ToArray())
        {
            readiness.OnContextDisposed();
        }

        _waiting.Clear();

        // Sockets may outlive their loop holding buffers they have not read: the ring frees its memory after the last
        // of them is given back, not here.
        _buffers?.Retire(kernelMayStillWrite: _leakBuffers);
        _buffers = null;
    }
}
