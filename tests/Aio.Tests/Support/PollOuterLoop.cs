using Aio.Interop;

namespace Aio.Tests.Support;

/// <summary>
/// The smallest outer main loop: Prepare, ppoll on <see cref="AioSource.Fds"/>, Check, Dispatch; with
/// g_main_context_iteration's contract (returns whether something was dispatched).
/// </summary>
public static class PollOuterLoop
{
    /// <param name="ctx">The context whose source is iterated.</param>
    /// <param name="mayBlock">Whether ppoll may sleep.</param>
    /// <param name="maxBlockNs">
    /// The longest sleep (-1: as Prepare says). A test bounds it, so that a lost wake-up ends the iteration and the
    /// test's watchdog fails it; the watchdog's own Notify cannot be trusted to wake a loop whose wake-ups get lost.
    /// </param>
    public static bool Iterate(AioContext ctx, bool mayBlock, long maxBlockNs = -1)
    {
        var source = ctx.Source;
        bool ready = source.Prepare(out int timeoutMs);
        if (!ready)
        {
            var fds = source.Fds;
            var pfds = new NativePollFd[fds.Count];
            for (int i = 0; i < fds.Count; i++)
            {
                pfds[i] = new NativePollFd { Fd = fds[i].Fd, Events = (short)fds[i].Events };
            }

            long timeoutNs = !mayBlock ? 0 : timeoutMs < 0 ? -1 : timeoutMs * 1_000_000L;
            if (maxBlockNs >= 0 && (timeoutNs < 0 || timeoutNs > maxBlockNs))
            {
                timeoutNs = maxBlockNs;
            }

            Libc.PPollArray(pfds, pfds.Length, timeoutNs);
            ready = source.Check();
        }

        if (ready)
        {
            source.Dispatch();
        }

        return ready;
    }
}
