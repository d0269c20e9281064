namespace Aio.Cli;

/// <summary>
/// Log-linear latency histogram (HdrHistogram-like, 32 sub-buckets per power of two: under 3 % error), allocation-free
/// to record, one per loop so recording needs no lock.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBits = 5;
    private const int Sub = 1 << SubBits;
    private readonly long[] _counts = new long[64 * Sub];

    public long Count { get; private set; }

    public void Record(long ns)
    {
        if (ns < 1)
        {
            ns = 1;
        }

        _counts[Index(ns)]++;
        Count++;
    }

    public void Add(LatencyHistogram other)
    {
        for (int i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
    }

    /// <summary>The value at quantile <paramref name="q"/> (0..1), in nanoseconds.</summary>
    public double Quantile(double q)
    {
        if (Count == 0)
        {
            return 0;
        }

        long rank = (long)Math.Ceiling(q * Count);
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Value(i);
            }
        }

        return Value(_counts.Length - 1);
    }

    private static int Index(long ns)
    {
        int msb = 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)ns);
        if (msb < SubBits)
        {
            return (int)ns;
        }

        int shift = msb - SubBits;
        int sub = (int)(ns >> shift) & (Sub - 1);
        return ((shift + 1) * Sub) + sub;
    }

    private static double Value(int index)
    {
        int bucket = index / Sub;
        int sub = index % Sub;
        if (bucket == 0)
        {
            return sub;
        }

        int shift = bucket - 1;
        return ((long)(Sub + sub) << shift) + ((1L << shift) / 2.0);
    }
}
