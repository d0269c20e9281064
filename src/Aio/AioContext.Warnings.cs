using System.Globalization;
using Aio.Diagnostics;

namespace Aio;

// Per-context warnings. Aio's EventSource writes every context's warnings to every listener in the process, and tells
// them apart only by the context's name, which several servers (or a test host per test) may share; a subscriber to
// one context's Warning hears that context's and nobody else's, without an EventListener. The Kestrel transport routes
// the warnings of the loops it owns to its ILogger this way.
public sealed partial class AioContext
{
    private Action<AioContext, AioWarning>? _warning;

    /// <summary>
    /// Raised for every warning Aio's EventSource writes about this context: a loop stalled by a callback
    /// (<c>LoopStalled</c>, see <see cref="AioContextOptions.LoopStallThreshold"/>), an fd removed because it became
    /// invalid while registered, a ring request that nobody runs the loop for, a fallback (epoll to poll(2) for an fd
    /// epoll cannot watch, multishot receives to plain ones, requests abandoned at Dispose, an outer loop's ring the
    /// kernel refused). Raised whether or not anybody listens to the EventSource; while a watched context has a
    /// subscriber, the stall watchdog samples (it otherwise parks while nobody listens).
    /// </summary>
    /// <remarks>
    /// Raised on whichever thread noticed, with no lock of the context held: the stall watchdog's thread, a loop-watch
    /// timer, a thread registering an fd, a thread disposing the context, or the loop thread (an fd found invalid while
    /// the monitor collected readiness is reported from a bottom half after that). A handler must return quickly and
    /// must not block on this loop's work; logging, counting or queueing elsewhere is what it is for. An exception a
    /// handler throws is dropped (and the other handlers still run): on the watchdog's or a timer thread it would end
    /// the process. Warnings raised while the context is being created come before anybody could subscribe; the
    /// EventSource has them, and <see cref="Monitor"/> tells which monitor serves.
    /// </remarks>
    public event Action<AioContext, AioWarning>? Warning
    {
        add
        {
            Action<AioContext, AioWarning>? seen, combined;
            do
            {
                seen = Volatile.Read(ref _warning);
                combined = (Action<AioContext, AioWarning>?)Delegate.Combine(seen, value);
            }
            while (Interlocked.CompareExchange(ref _warning, combined, seen) != seen);

            // Somebody listens now: a watchdog parked for want of listeners samples again. After the exchange (a full
            // fence), so a pass that parks under the watchdog's lock sees this subscriber, or Resume un-parks it.
            LoopStallWatchdog.Resume();
        }

        remove
        {
            Action<AioContext, AioWarning>? seen, remaining;
            do
            {
                seen = Volatile.Read(ref _warning);
                remaining = (Action<AioContext, AioWarning>?)Delegate.Remove(seen, value);
            }
            while (Interlocked.CompareExchange(ref _warning, remaining, seen) != seen);
        }
    }

    /// <summary>Whether <see cref="Warning"/> has a subscriber (the stall watchdog samples while any live context has one).</summary>
    internal bool HasWarningSubscribers => Volatile.Read(ref _warning) is not null;

    /// <summary>Hands a warning to this context's subscribers, formatted as the EventSource formats it. Any thread.</summary>
    internal void RaiseWarning(int eventId, string eventName, string format, params object[] payload)
    {
        if (HasWarningSubscribers)
        {
            Deliver(new AioWarning(eventId, eventName, string.Format(CultureInfo.InvariantCulture, format, payload)));
        }
    }

    /// <summary>
    /// Home thread, inside the monitor's collection of readiness (an invalid fd found there): the subscribers hear it
    /// from a one-shot bottom half, after the collection, so that their code never runs in the middle of it.
    /// </summary>
    internal void RaiseWarningAfterCollect(int eventId, string eventName, string format, params object[] payload)
    {
        if (!HasWarningSubscribers)
        {
            return;
        }

        var warning = new AioWarning(eventId, eventName, string.Format(CultureInfo.InvariantCulture, format, payload));
        try
        {
            ScheduleOneShot(() => Deliver(warning));

            // Scheduled on the home thread, where no wake-up is written: but the epoll monitor finds invalid fds
            // before its wait, whose timeout was computed without this bottom half. A Notify keeps it from sleeping.
            NotifyCore();
        }
        catch (ObjectDisposedException)
        {
            // Found during the teardown: the context, and so its subscribers' interest, is gone (the EventSource has it).
        }
    }

    private void Deliver(AioWarning warning)
    {
        var handlers = Volatile.Read(ref _warning);
        if (handlers is null)
        {
            return;
        }

        foreach (var handler in Delegate.EnumerateInvocationList(handlers))
        {
            try
            {
                handler(this, warning);
            }
            catch (Exception)
            {
                // Dropped, as the event's remarks say: the thread that noticed is no place for it to surface.
            }
        }
    }
}
