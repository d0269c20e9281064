using Aio.Diagnostics;
using Aio.Monitors;

namespace Aio;

// The lifecycle: one state word, changed with Interlocked, so that "is the home thread inside the context?" and
// "has Dispose won?" are one atomic question.
//
// The low bits of _lifecycle count the home thread's sections in progress: every Poll level (nested
// ones included), the outer-loop calls and AddSqe's direct path, that is everything that touches the monitor or the
// ring. DisposedBit says Dispose won: no section may start any more.
//
// A foreign Dispose sets the bit only while no section is in progress, with one compare-and-swap. So it either
// wins before the home thread enters (which then throws ObjectDisposedException having touched
// nothing), or it is refused with InvalidOperationException and changes nothing.
//
// On the home thread, Dispose from a callback is allowed (the sections on the stack are that thread's own): it
// disposes at once, and every section re-checks the bit after each step that ran callbacks and unwinds without
// touching the monitor again. The exception is a callback the monitor itself runs, an SqePreparer<TState>:
// the ring is half-way through an entry there, so Dispose is refused (_monitorCalls).
public sealed partial class AioContext
{
    private const int DisposedBit = 1 << 30;
    private const int SectionMask = DisposedBit - 1;

    private int _lifecycle;
    private int _monitorCalls;

    /// <summary>
    /// True once <see cref="Dispose"/> has begun (it may still be running). From then on the context's fds are closed or
    /// about to be, so code that drives it from outside (an outer main loop's source, for example) must stop using it.
    /// </summary>
    public bool IsDisposed => (Volatile.Read(ref _lifecycle) & DisposedBit) != 0;

    /// <summary>
    /// <see cref="Dispose"/>, for <c>await using</c>. In-flight ring operations end first (with
    /// <see cref="ObjectDisposedException"/> once the kernel let go); it completes synchronously.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called from another thread while the loop is running.</exception>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return default;
    }

    /// <summary>
    /// Removes all handlers, deletes bottom halves and timers, and closes the monitor and notifier. From the home
    /// thread (also from inside a callback: the running <see cref="Poll(bool)"/> then returns at once), or from any
    /// thread while the home thread is not inside the context. Safe to call twice.
    /// </summary>
    /// <remarks>
    /// Work queued to the loop that never ran is abandoned, and nobody waits for it for good:
    /// <see cref="InvokeAsync(Func{Task})"/> tasks fail and <c>SynchronizationContext.Send</c> throws, with
    /// <see cref="ObjectDisposedException"/>; callbacks posted with <c>SynchronizationContext.Post</c> and tasks queued
    /// to <see cref="TaskScheduler"/> run on the thread pool (they cannot be failed from outside, and are mostly await
    /// continuations: their next use of the context throws <see cref="ObjectDisposedException"/>). Plain bottom halves
    /// and <see cref="ScheduleOneShot(Action)"/> callbacks are dropped.
    /// </remarks>
    /// <exception cref="InvalidOperationException">
    /// Called from another thread while the home thread is inside the context (a Poll, an outer-loop call, an AddSqe),
    /// or from inside an <see cref="SqePreparer{TState}"/>. Nothing changed; the context stays usable.
    /// </exception>
    public void Dispose()
    {
        int state = Volatile.Read(ref _lifecycle);
        while (true)
        {
            if ((state & DisposedBit) != 0)
            {
                return;
            }

            if ((state & SectionMask) != 0)
            {
                if (!IsOnHomeThread)
                {
                    throw new InvalidOperationException($"AioContext '{Name}' is running on its home thread; dispose it there (or stop the loop first).");
                }

                if (_monitorCalls != 0)
                {
                    throw new InvalidOperationException($"AioContext '{Name}' cannot be disposed from inside an SqePreparer (the ring is half-way through an entry); dispose it from a bottom half or after the loop.");
                }
            }

            // Full fence; pairs with the increment in EnterSection: either that increment happened first and this CAS
            // fails (and, from another thread, the next round refuses), or the section sees the bit.
            int seen = Interlocked.CompareExchange(ref _lifecycle, state | DisposedBit, state);
            if (seen == state)
            {
                break;
            }

            state = seen;
        }

        ContextRegistry.Remove(this);
        DisposeCore();
    }

    internal void ThrowIfDisposed()
    {
        if (IsDisposed)
        {
            ThrowDisposed();
        }
    }

    private void ThrowDisposed() => throw new ObjectDisposedException(nameof(AioContext), $"AioContext '{Name}' was disposed.");

    /// <summary>
    /// Starts a section of the home thread that may touch the monitor or the ring. Throws
    /// <see cref="ObjectDisposedException"/>, having touched nothing, once Dispose has won.
    /// </summary>
    private void EnterSection()
    {
        // Full fence; pairs with Dispose's CompareExchange (see there).
        if ((Interlocked.Increment(ref _lifecycle) & DisposedBit) != 0)
        {
            Interlocked.Decrement(ref _lifecycle);
            ThrowDisposed();
        }
    }

    private void ExitSection() => Interlocked.Decrement(ref _lifecycle);

    /// <summary>Home thread: a section that also binds the calling thread as the home thread (or refuses another one).</summary>
    private void EnterBoundSection()
    {
        EnterSection();
        try
        {
            BindHomeThread();
        }
        catch
        {
            ExitSection();
            throw;
        }
    }

    /// <summary>
    /// Home thread: runs <paramref name="action"/>, which touches the ring, as a section (inside a Poll, that Poll's), so
    /// that a Dispose from another thread cannot unmap the ring under it. False, without running it, once the context
    /// is disposed.
    /// </summary>
    internal bool TryRunAsSection(Action action)
    {
        if (_pollDepth > 0)
        {
            action();
            return true;
        }

        // Full fence; pairs with Dispose's CompareExchange, as in EnterSection.
        if ((Interlocked.Increment(ref _lifecycle) & DisposedBit) != 0)
        {
            Interlocked.Decrement(ref _lifecycle);
            return false;
        }

        try
        {
            action();
        }
        finally
        {
            ExitSection();
        }

        return true;
    }

    /// <summary>AddSqe on the home thread with the ring enabled: straight into the SQ, as a section.</summary>
    private void AddSqeDirect<TState>(IRequestRing requests, SqePreparer<TState> prepare, TState state, CqeHandler handler)
    {
        if (_pollDepth > 0)
        {
            // Called from a callback of a Poll on this (home) thread: that Poll's section is in progress, so a foreign
            // Dispose is refused until it ends, and a Dispose from a callback on this thread was seen by AddSqe's own
            // check. No second section (two atomic operations per request on the hot path) is needed.
            _monitorCalls++;
            try
            {
                requests.AddDirect(prepare, state, handler);
            }
            finally
            {
                _monitorCalls--;
            }

            return;
        }

        EnterSection();
        _monitorCalls++;
        try
        {
            requests.AddDirect(prepare, state, handler);
        }
        finally
        {
            _monitorCalls--;
            ExitSection();
        }
    }
}
