using System.Diagnostics.Metrics;

namespace Aio.Diagnostics;

/// <summary>
/// The <c>Aio</c> <see cref="Meter"/> (<see cref="AioDiagnostics.MeterName"/>): observable counters per live context (tag <c>aio.context</c>). Observed only
/// when a listener collects, so it costs nothing otherwise.
/// </summary>
internal static class AioMetrics
{
    private static readonly Meter s_meter = new(AioDiagnostics.MeterName, "1.0");

    static AioMetrics()
    {
        Create("aio.loop.iterations", "{iteration}", "Loop iterations", s => s.Iterations);
        Create("aio.loop.blocking_waits", "{wait}", "Waits with a non-zero timeout", s => s.BlockingWaits);
        Create("aio.notifies", "{notify}", "Notify() calls", s => s.Notifies);
        Create("aio.notify_writes", "{write}", "Notifies that wrote the eventfd", s => s.NotifyWrites);
        Create("aio.bottom_halves.run", "{callback}", "Bottom halves run", s => s.BottomHalvesRun);
        Create("aio.fd.callbacks", "{callback}", "fd handler callbacks", s => s.FdCallbacks);
        Create("aio.timers.fired", "{timer}", "Timers fired", s => s.TimersFired);
        Create("aio.uring.sqes", "{sqe}", "io_uring entries submitted", s => s.SqesSubmitted);
        Create("aio.uring.cqes", "{cqe}", "io_uring completions reaped", s => s.CqesReaped);
        Create("aio.uring.enters", "{call}", "io_uring_enter calls", s => s.RingEnters);
        Create("aio.poll.hits", "{round}", "Busy-poll rounds that found work", s => s.PollSuccesses);
        Create("aio.poll.misses", "{round}", "Busy-poll rounds that found nothing", s => s.PollFailures);
    }

    /// <summary>Makes sure the meter exists (the static constructor runs once).</summary>
    public static void EnsureCreated()
    {
    }

    private static void Create(string name, string unit, string description, Func<AioStatistics, long> pick)
        => s_meter.CreateObservableCounter(name, () => Observe(pick), unit, description);

    private static IEnumerable<Measurement<long>> Observe(Func<AioStatistics, long> pick)
    {
        foreach (var ctx in ContextRegistry.Live)
        {
            yield return new Measurement<long>(pick(ctx.Statistics), new KeyValuePair<string, object?>("aio.context", ctx.Name));
        }
    }
}
