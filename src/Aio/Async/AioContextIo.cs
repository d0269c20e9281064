using System.Runtime.InteropServices;
using Aio.Async;
using Aio.Interop;

namespace Aio;

/// <summary>
/// Awaitable ring operations on an <see cref="AioContext"/>. Callable from any thread. Steady-state operations
/// allocate nothing (pooled <see cref="System.Threading.Tasks.Sources.IValueTaskSource{TResult}"/>s); awaited on the loop
/// they resume inline on the loop, elsewhere on the captured context or the thread pool. Without io_uring,
/// <see cref="ReadAsync"/>, <see cref="WriteAsync"/> and <see cref="FlushAsync"/> run the blocking call on the thread pool.
/// </summary>
/// <remarks>
/// <para><b>Await, never block, on the loop.</b> A completion is delivered by the loop iteration that runs it, so the
/// loop thread blocking on its own operation (<c>ReadAsync(...).AsTask().Result</c> or <c>.Wait()</c> in a loop callback,
/// or on a task that depends on it) could never wake up. Such an unbounded wait throws
/// <see cref="InvalidOperationException"/> ("the loop thread is blocking on its own loop's work") instead of hanging;
/// <c>GetAwaiter().GetResult()</c> on an unfinished operation's ValueTask throws <see cref="InvalidOperationException"/>
/// anywhere. Blocking the loop on other threads' work is not refused (docs/ARCHITECTURE.md, "Sync-over-async").</para>
/// <para><b>Each ValueTask once.</b> Like any pooled ValueTask: await it (or read its result) exactly once; a second
/// read throws <see cref="InvalidOperationException"/> and never affects the operation's next use.</para>
/// </remarks>
public static class AioContextIo
{
    /// <summary>pread: reads up to <c>buffer.Length</c> bytes at <paramref name="offset"/>; returns the count (0 at end of file).</summary>
    /// <exception cref="AioException">The kernel failed the read (message names "read" and the errno).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> cancelled the request.</exception>
    public static ValueTask<int> ReadAsync(this AioContext ctx, SafeHandle file, Memory<byte> buffer, long offset, CancellationToken ct = default)
    {
        Validate(ctx, file, offset);
        if (ct.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(ct);
        }

        if (!ctx.HasIoUring)
        {
            return ThreadPoolIo.ReadAsync(file, buffer, offset, ct);
        }

        return IoOperation.Rent().Read(ctx, file, buffer, offset, ct);
    }

    /// <summary>pwrite: writes up to <c>buffer.Length</c> bytes at <paramref name="offset"/>; returns the count.</summary>
    /// <exception cref="AioException">The kernel failed the write.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> cancelled the request.</exception>
    public static ValueTask<int> WriteAsync(this AioContext ctx, SafeHandle file, ReadOnlyMemory<byte> buffer, long offset, CancellationToken ct = default)
    {
        Validate(ctx, file, offset);
        if (ct.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(ct);
        }

        if (!ctx.HasIoUring)
        {
            return ThreadPoolIo.WriteAsync(file, buffer, offset, ct);
        }

        return IoOperation.Rent().Write(ctx, file, buffer, offset, ct);
    }

    /// <summary>fsync, or fdatasync when <paramref name="dataOnly"/>.</summary>
    /// <exception cref="AioException">The kernel failed the flush.</exception>
    public static ValueTask FlushAsync(this AioContext ctx, SafeHandle file, bool dataOnly = false, CancellationToken ct = default)
    {
        Validate(ctx, file, 0);
        if (ct.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(ct);
        }

        if (!ctx.HasIoUring)
        {
            return ThreadPoolIo.FlushAsync(file, dataOnly, ct);
        }

        return IoOperation.Rent().Fsync(ctx, file, dataOnly, ct);
    }

    /// <summary>Waits until <paramref name="fd"/> has one of <paramref name="events"/> (one-shot POLL_ADD); returns the ready events.</summary>
    /// <exception cref="NotSupportedException">The context has no io_uring.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> cancelled the wait.</exception>
    public static ValueTask<PollEvents> WaitAsync(this AioContext ctx, SafeHandle fd, PollEvents events, CancellationToken ct = default)
    {
        Validate(ctx, fd, 0);
        if (!ctx.HasIoUring)
        {
            throw new NotSupportedException($"AioContext '{ctx.Name}' has no io_uring; WaitAsync needs it.");
        }

        if (ct.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<PollEvents>(ct);
        }

        return IoOperation.Rent().PollAdd(ctx, fd, events, ct);
    }

    /// <summary>Submits the entry <paramref name="prepare"/> fills and returns the raw <see cref="Cqe.Result"/> (negative allowed).</summary>
    /// <remarks>
    /// Like every ring operation here, it completes only when some thread runs the context's loop (an
    /// <see cref="IoThread"/>, or <see cref="AioContext.Poll(bool)"/>, <see cref="AioContext.Run"/> or
    /// <see cref="AioContext.RunUntil{T}(ValueTask{T})"/>). Submitting before the loop runs is allowed, so nothing throws
    /// when nobody runs it; a warning is written instead, see
    /// <see cref="AioContext.AddSqe{TState}(SqePreparer{TState}, TState, CqeHandler)"/>.
    /// </remarks>
    /// <exception cref="NotSupportedException">The context has no io_uring.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> cancelled the request and the kernel agreed.</exception>
    public static ValueTask<int> SubmitAsync<TState>(this AioContext ctx, SqePreparer<TState> prepare, TState state, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(prepare);
        ctx.ThrowIfDisposed();
        if (!ctx.HasIoUring)
        {
            throw new NotSupportedException($"AioContext '{ctx.Name}' has no io_uring; SubmitAsync needs it.");
        }

        if (ct.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(ct);
        }

        return SubmitOperation<TState>.Rent().Submit(ctx, prepare, state, ct);
    }

    // The thread-pool fallbacks live in ThreadPoolIo: a lambda here would capture the parameters, and C# allocates
    // such a closure on entry to the method, on the io_uring path too.
    private static void Validate(AioContext ctx, SafeHandle file, long offset)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(file);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ObjectDisposedException.ThrowIf(file.IsClosed, file);
        ctx.ThrowIfDisposed();
    }
}
