namespace Aio.Cli;

/// <summary>What the loops did over a measured run: the differences of their <see cref="AioStatistics"/>, summed.</summary>
/// <param name="Iterations">Loop iterations.</param>
/// <param name="BlockingWaits">Waits in the kernel with a timeout (sleeps).</param>
/// <param name="RingEnters"><c>io_uring_enter</c> calls.</param>
/// <param name="PollSuccesses">Busy-poll rounds that found work.</param>
/// <param name="PollFailures">Busy-poll rounds whose window ran out.</param>
internal sealed record LoopCounters(long Iterations, long BlockingWaits, long RingEnters, long PollSuccesses, long PollFailures)
{
    /// <summary>The counters of <paramref name="loops"/> now, summed.</summary>
    public static LoopCounters Of(IEnumerable<IoThread> loops)
    {
        long iterations = 0, waits = 0, enters = 0, successes = 0, failures = 0;
        foreach (var loop in loops)
        {
            var s = loop.Context.Statistics;
            iterations += s.Iterations;
            waits += s.BlockingWaits;
            enters += s.RingEnters;
            successes += s.PollSuccesses;
            failures += s.PollFailures;
        }

        return new LoopCounters(iterations, waits, enters, successes, failures);
    }

    /// <summary>What happened between <paramref name="before"/> and <paramref name="after"/>.</summary>
    public static LoopCounters operator -(LoopCounters after, LoopCounters before) => new(
        after.Iterations - before.Iterations,
        after.BlockingWaits - before.BlockingWaits,
        after.RingEnters - before.RingEnters,
        after.PollSuccesses - before.PollSuccesses,
        after.PollFailures - before.PollFailures);
}
