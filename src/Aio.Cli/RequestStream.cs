namespace Aio.Cli;

/// <summary>
/// One worker's sequence of requests: which block, and whether it reads (fio's rw and rwmixread). Sequential
/// workloads interleave the workers (worker w of n takes blocks w, w + n, w + 2n, ...), random ones draw uniformly.
/// </summary>
internal sealed class RequestStream
{
    private readonly Random _rng;
    private readonly int _readPercent;
    private readonly bool _random;
    private readonly int _stride;
    private long _next;

    public RequestStream(BenchOptions o, Region region, int worker, int workers)
    {
        Region = region;
        _rng = new Random((worker * 7919) + 1);
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
            block = _rng.NextInt64(Region.Blocks);
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
            _ => _rng.Next(100) < _readPercent,
        };
        return (block, read);
    }
}
