namespace Aio;

// The wake-up protocol (QEMU aio_notify / aio_notify_accept). Two variables:
// - _notifyMe: raised by 2 by the home thread just before a real wait (bit 0 by an outer loop's
//   Prepare); non-zero means "someone may be asleep, write the eventfd".
// - _notified: set by every Notify, cleared by the loop after each wait. Busy-polling watches it directly,
//   so producers make no syscall while the loop spins.
// Notify: store _notified, full fence, read _notifyMe. Loop: store _notifyMe, full fence, read
// _notified. Whatever the interleaving, either the producer sees the sleeper and writes the eventfd, or the
// sleeper sees the flag and does not sleep.
// Coalescing (as libuv's uv_async_send): only the Notify that raises _notified from 0 looks at _notifyMe. A later one
// finds it set by an earlier one since the loop last cleared it, which either saw the sleeper and writes the eventfd,
// or set the flag before the loop announced its sleep, and then the loop sees the flag and does not sleep. Either way
// the loop clears the flag (a full fence) before it runs the work of anyone who found it set. An outer loop's Prepare
// clears the flag too, right after it announces the sleep: it sleeps without looking at the flag (a wake-up that came
// before the sleep is not work), so a stale flag must not silence the Notify that comes after its look at the work.
public sealed partial class AioContext
{
    private int _notifyMe;
    private int _notified;

    /// <summary>Notifications taken by <see cref="AcceptNotify"/> (home thread only): an iteration learns that a poll callback took its wake-ups.</summary>
    private int _notifyAccepts;

    /// <summary>Wakes a blocked <see cref="Poll(bool)"/> (which then returns false unless other work ran). Any thread; cheap when nobody sleeps.</summary>
    public void Notify()
    {
        ThrowIfDisposed();
        NotifyCore();
    }

    /// <summary>
    /// Wakes the loop after giving it work (a bottom half, a timer, a handler, an SQE). On the home thread this is
    /// unnecessary: the home thread cannot be asleep, and the next iteration re-evaluates all work before sleeping.
    /// Skipping it there also keeps a stale <c>notified</c> flag from cutting the next blocking Poll short. Never throws
    /// <see cref="ObjectDisposedException"/>: the work was handed over already, and a disposed loop has nobody to wake.
    /// </summary>
    internal void NotifyWork()
    {
        if (Environment.CurrentManagedThreadId == _homeThreadId || IsDisposed)
        {
            return;
        }

        try
        {
            NotifyCore();
        }
        catch (ObjectDisposedException)
        {
            // Disposed meanwhile (the notifier closed under us): nothing left to wake.
        }
    }

    private void NotifyCore()
    {
        Interlocked.Increment(ref _notifies);

        // Interlocked.Exchange is a full fence on both sides: whatever work the caller published (a bottom half, an
        // SQE, a handler) is visible before notified, and notified is written before notifyMe is read below. Already
        // set: an earlier Notify wakes the loop, or the loop will not sleep (see the top of this file). Under load from
        // other threads this saves an eventfd write per Notify while the loop is waking up.
        if (Interlocked.Exchange(ref _notified, 1) != 0)
        {
            return;
        }

        if (Volatile.Read(ref _notifyMe) != 0)
        {
            Interlocked.Increment(ref _notifyWrites);
            _notifier.Set();
        }
    }

    /// <summary>Step 5: clear notified (full fence, so later reads of the work lists are not hoisted above it).</summary>
    private void AcceptNotify()
    {
        if (Volatile.Read(ref _notified) != 0)
        {
            Interlocked.Exchange(ref _notified, 0);
            _notifyAccepts++;
        }
    }

    /// <summary>The internal notifier's read handler: drain the eventfd. Never progress.</summary>
    private void DrainNotifier() => _notifier.TestAndClear();

    /// <summary>The internal notifier's busy-poll check: the flag, no syscall.</summary>
    private bool PollNotified() => Volatile.Read(ref _notified) != 0;
}
