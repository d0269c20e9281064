namespace Aio;

/// <summary>How a <see cref="BlockFile"/> does its I/O (QEMU's aio= option).</summary>
public enum BlockEngine
{
    /// <summary>io_uring when the context has it, else threads.</summary>
    Auto,

    /// <summary>Requests on the context's ring (aio=io_uring).</summary>
    IoUring,

    /// <summary>Blocking pread/pwrite on the thread pool (aio=threads).</summary>
    Threads,
}
