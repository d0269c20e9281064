namespace Aio.Cli;

/// <summary>
/// Requests completed so far, for the live status line: one counter per writer (a loop, or a randomaccess worker),
/// each on its own cache line, so counting costs the I/O path a plain store and no contention.
/// </summary>
internal sealed class Progress
{
    private const int Stride = 16;   // 128 bytes: two cache lines, against the adjacent-line prefetcher
    private readonly long[] _slots;

    public Progress(int writers) => _slots = new long[writers * Stride];

    /// <summary>Counts one request; only slot <paramref name="writer"/>'s single writer calls this.</summary>
    public void Add(int writer)
    {
        ref long slot = ref _slots[writer * Stride];

        // Single writer: a plain increment published with a release store; pairs with the Volatile.Read in Total.
        Volatile.Write(ref slot, slot + 1);
    }

    public long Total
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < _slots.Length; i += Stride)
            {
                sum += Volatile.Read(ref _slots[i]);
            }

            return sum;
        }
    }
}
