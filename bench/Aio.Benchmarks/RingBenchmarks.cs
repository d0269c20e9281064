using Aio.Uring;
using BenchmarkDotNet.Attributes;

namespace Aio.Benchmarks;

/// <summary>The raw ring: one NOP submitted and reaped per operation, on the owner thread.</summary>
[MemoryDiagnoser]
public class RingBenchmarks
{
    private Ring _ring = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ring = Ring.Create(new RingOptions { Entries = 64 });
        _ring.Enable();
    }

    [GlobalCleanup]
    public void Cleanup() => _ring.Dispose();

    [Benchmark]
    public int NopRoundTrip()
    {
        ref var sqe = ref _ring.NextSqe();
        sqe.PrepNop();
        _ring.SubmitAndWait(1, -1);
        _ring.TryGetCqe(out var cqe);
        return cqe.Result;
    }
}
