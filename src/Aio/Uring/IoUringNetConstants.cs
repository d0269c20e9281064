namespace Aio.Uring;

/// <summary>
/// The networking part of include/uapi/linux/io_uring.h that <c>Aio.Net</c> uses; each value is pinned by a test
/// against an independent copy of the header's numbers.
/// </summary>
internal static class IoUringNetConstants
{
    /// <summary>sqe->ioprio for ACCEPT: keep accepting (5.19).</summary>
    public const ushort AcceptMultishot = 1 << 0;

    /// <summary>sqe->ioprio for SEND/RECV: poll before the first attempt (5.19).</summary>
    public const ushort RecvSendPollFirst = 1 << 0;

    /// <summary>sqe->ioprio for RECV: keep receiving into provided buffers (6.0).</summary>
    public const ushort RecvMultishot = 1 << 1;

    /// <summary>io_uring_register(2): IORING_REGISTER_PBUF_RING (5.19).</summary>
    public const uint RegisterPbufRing = 22;

    /// <summary>io_uring_register(2): IORING_UNREGISTER_PBUF_RING.</summary>
    public const uint UnregisterPbufRing = 23;

    /// <summary>cqe->flags >> this = the provided buffer's id.</summary>
    public const int CqeBufferShift = 16;

    /// <summary>sizeof(struct io_uring_buf).</summary>
    public const int BufSize = 16;

    /// <summary>Offset of the ring tail in the first struct io_uring_buf (it overlays bufs[0].resv).</summary>
    public const int BufRingTailOffset = 14;

    /// <summary>sizeof(struct io_uring_buf_reg).</summary>
    public const int BufRegSize = 40;
}
