namespace Aio.Cli;

/// <summary>
/// One worker's sequence of requests: which block, and whether it reads (fio's rw and rwmixread). Sequential
/// workloads interleave the workers (worker w of n takes blocks w, w + n, w + 2n, ...), random ones draw uniformly.
/// </summary>
internal sealed class RequestStream
{
    private readonly Random _rng;
    private ulong _state;
    private readonly int _readPercent;
    private readonly bool _random;
    private readonly int _stride;
    private long _next;

    public RequestStream(BenchOptions o, Region region, int worker, int workers)
    {
        Region = region;
        _rng = new Random((worker * 7919) + 1);
        _state = (ulong)((worker * 7919) + 1);
        _readPercent = o.ReadPercent;
        _random = o.IsRandom;
        _stride = workers;
        _next = worker;
        WritesRandomData = o.Writes && !o.Verify;
    }

    public Region Region { get; }

    private bool WritesRandomData { get; }

    /// <summary>Random data for the writes (a file system cannot compress or skip it); --verify writes patterns instead.</summary>
    public void FillInitial(Span<byte> buffer)
    {
        if (WritesRandomData)
        {
            _rng.NextBytes(buffer);
        }
    }

    public (long Block, bool Read) Next()
    {
        long block;
        if (_random)
        {
            block = (long)Math.BigMul(NextRandom(), (ulong)Region.Blocks, out _);
        }
        else
        {
            block = _next % Region.Blocks;
            _next += _stride;
        }

        bool read = _readPercent switch
        {
            100 => true,
            0 => false,
            _ => (int)Math.BigMul(NextRandom(), 100UL, out _) < _readPercent,
        };
        return (block, read);
    }

    // splitmix64, drawn per request on the loop thread: a seeded System.Random takes its slower compatible path, and
    // the C loop this is compared with draws its offsets the same way. The high half of a 64x64 product maps the draw
    // to [0, n) without a division.
    private ulong NextRandom()
    {
        ulong z = _state += 0x9e3779b97f4a7c15UL;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
        return z ^ (z >> 31);
    }
}
