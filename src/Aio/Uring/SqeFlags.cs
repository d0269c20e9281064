namespace Aio;

/// <summary>The per-request <c>IOSQE_*</c> flags of <c>io_uring_sqe.flags</c>.</summary>
[Flags]
public enum SqeFlags : byte
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>IOSQE_FIXED_FILE: <see cref="Sqe.Fd"/> is an index into the registered file table.</summary>
    FixedFile = 1,
    /// <summary>IOSQE_IO_DRAIN: start only after every earlier request has completed.</summary>
    IoDrain = 2,
    /// <summary>IOSQE_IO_LINK: the next request starts only after this one succeeds. Rejected by <c>AddSqe</c>.</summary>
    IoLink = 4,
    /// <summary>IOSQE_IO_HARDLINK: like <see cref="IoLink"/> but not broken by failure. Rejected by <c>AddSqe</c>.</summary>
    IoHardlink = 8,
    /// <summary>IOSQE_ASYNC: go straight to the kernel's worker threads.</summary>
    Async = 16,
    /// <summary>IOSQE_BUFFER_SELECT: pick a buffer from a provided group.</summary>
    BufferSelect = 32,
    /// <summary>IOSQE_CQE_SKIP_SUCCESS: post no completion on success. Rejected by <c>AddSqe</c>.</summary>
    CqeSkipSuccess = 64,
}
