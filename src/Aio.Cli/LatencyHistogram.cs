using HdrHistogram;

namespace Aio.Cli;

/// <summary>
/// Request latencies in nanoseconds: an HdrHistogram at 3 significant digits (0.1 % resolution) from 1 ns to 10
/// minutes, plus the exact minimum. Recording allocates nothing; one histogram per recording thread (no lock).
/// </summary>
internal sealed class LatencyHistogram
{
    private const long Highest = 600L * 1_000_000_000;
    private readonly LongHistogram _h = new(1, Highest, 3);
    private static readonly double s_nsPerTick = 1e9 / System.Diagnostics.Stopwatch.Frequency;
    private long _min = long.MaxValue;

    public long Count => _h.TotalCount;

    /// <summary>Records the time between two <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> readings.</summary>
    /// <remarks>
    /// Exact nanoseconds: <c>Stopwatch.GetElapsedTime</c> goes through a TimeSpan, whose 100 ns ticks would round every
    /// latency down to a multiple of 100 ns.
    /// </remarks>
    public void RecordTicks(long start, long end)
    {
        long ticks = end - start;
        Record(System.Diagnostics.Stopwatch.Frequency == 1_000_000_000 ? ticks : (long)(ticks * s_nsPerTick));
    }

    public void Record(long ns)
    {
        // Out-of-range values would throw: a clock step cannot produce them here (monotonic), a 10-minute request
        // is reported as 10 minutes.
        ns = Math.Clamp(ns, 1, Highest);
        if (ns < _min)
        {
            _min = ns;
        }

        _h.RecordValue(ns);
    }

    public void Add(LatencyHistogram other)
    {
        _h.Add(other._h);
        _min = Math.Min(_min, other._min);
    }

    /// <summary>The value at quantile <paramref name="q"/> (0..1), in nanoseconds.</summary>
    public double Quantile(double q) => Count == 0 ? 0 : _h.GetValueAtPercentile(q * 100);

    /// <summary>The summary in microseconds, with the values at <paramref name="percentiles"/> (0..100).</summary>
    public LatencyStats Stats(IReadOnlyList<double> percentiles)
    {
        if (Count == 0)
        {
            return new LatencyStats(0, 0, 0, 0, percentiles.Select(_ => 0.0).ToArray());
        }

        return new LatencyStats(
            _min / 1000.0,
            _h.GetMean() / 1000.0,
            _h.GetMaxValue() / 1000.0,
            _h.GetStdDeviation() / 1000.0,
            percentiles.Select(p => _h.GetValueAtPercentile(p) / 1000.0).ToArray());
    }
}
