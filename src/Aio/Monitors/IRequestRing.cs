using Aio.Uring;

namespace Aio.Monitors;

/// <summary>
/// The kernel-request side of a monitor (QEMU <c>aio_add_sqe</c>): what a context needs for <c>AddSqe</c> and ring-backed
/// async operations. Only the io_uring monitor has one (<see cref="IFdMonitor.Requests"/>); poll(2) and epoll do not.
/// </summary>
internal interface IRequestRing
{
    /// <summary>The ring's setup in force.</summary>
    IoUringSetup Setup { get; }

    /// <summary>The ring (for registrations such as the sockets' provided buffers, and the counters).</summary>
    Ring Ring { get; }

    /// <summary>The home thread has bound the ring (single issuer): requests may go straight into the SQ.</summary>
    bool IsBound { get; }

    /// <summary>Requests in flight in the kernel (fd polls and user requests).</summary>
    int InFlight { get; }

    /// <summary>User requests in flight in the kernel.</summary>
    int UserInFlight { get; }

    /// <summary>Submit as soon as this many SQEs are queued (aio-max-batch); 0 = the default. Home thread.</summary>
    void SetMaxBatch(long maxBatch);

    /// <summary>Home thread, ring bound: prepares a user request straight into the SQ.</summary>
    void AddDirect<TState>(SqePreparer<TState> prepare, TState state, CqeHandler handler);

    /// <summary>A user request from another thread (or before the ring is bound), prepared later by the home thread.</summary>
    void Enqueue(PendingSqe pending);

    /// <summary>Any thread: abandons the requests queued by <see cref="Enqueue"/> that never reached the kernel (each to one taker).</summary>
    void AbandonQueued();

    /// <summary>Changes whenever the ring is replaced: a file or buffer slot registered under another generation means nothing.</summary>
    int FileTableGeneration { get; }

    /// <summary>
    /// Home thread: puts <paramref name="fd"/> in the ring's registered file table (IOSQE_FIXED_FILE). Returns the slot, or -1
    /// when there is none (kernel refusal, table full): the file is then used by fd.
    /// </summary>
    int TryRegisterFile(int fd);

    /// <summary>
    /// Home thread: empties a slot from <see cref="TryRegisterFile"/> of generation <paramref name="generation"/>. False if
    /// it cannot be done yet (the kernel refuses to take the SQ, whose entries may name the slot): try again later.
    /// </summary>
    bool TryUnregisterFile(int slot, int generation);

    /// <summary>
    /// Home thread: puts [<paramref name="address"/>, + <paramref name="length"/>) in the ring's registered buffer table
    /// (READ_FIXED/WRITE_FIXED). Returns the slot, or -1 when there is none (kernel refusal, RLIMIT_MEMLOCK, table full).
    /// </summary>
    int TryRegisterBuffer(nint address, int length);

    /// <summary>Home thread: empties a slot from <see cref="TryRegisterBuffer"/>; false if it cannot be done yet (as for files).</summary>
    bool TryUnregisterBuffer(int slot, int generation);

    /// <summary>
    /// Home thread: calls <paramref name="action"/> for every user request the monitor holds, in the kernel or still queued
    /// from another thread. Not for hot paths (it walks the whole table).
    /// </summary>
    void ForEachUserRequest(Action<CqeHandler> action);

    /// <summary>
    /// Dispose: cancels every request in flight and waits (bounded) until the kernel let go, abandoning what it still holds
    /// at the deadline; requests never submitted are abandoned at once. False if something was left to the kernel.
    /// </summary>
    bool ReleaseAll(TimeSpan timeout);
}
