using BenchmarkDotNet.Attributes;

namespace Aio.Benchmarks;

/// <summary>
/// 4 KiB random O_DIRECT reads of a tmpfs file, on one loop, at depth 1 and 32: the CPU-bound case, where every cycle
/// the loop spends per read shows. Pins the changes made to come close to a bare liburing loop, each on its own:
/// the registered ring fd (enter without an fdget), aio-max-batch 16 instead of 4 (fewer enters per batch), and
/// registered file and buffers (READ_FIXED on a fixed file vs a plain READ on the fd). Busy-polling the ring has a
/// benchmark of its own (<see cref="RingPollingBenchmarks"/>); here it is off, as it was when these were measured.
/// </summary>
/// <remarks><c>dotnet run -c Release --project bench/Aio.Benchmarks -- --filter '*RandomRead*'</c>; needs /dev/shm with O_DIRECT (kernel 6.6+).</remarks>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 7)]
public class RandomReadBenchmarks
{
    private RandomReadRig _rig = null!;

    [Params(1, 32)]
    public int Depth { get; set; }

    [Params(false, true)]
    public bool RingFdRegistered { get; set; }

    [Params(4, 16)]
    public int MaxBatch { get; set; }

    [Params(false, true)]
    public bool FixedFileAndBuffers { get; set; }

    [GlobalSetup]
    public void Setup() => _rig = new RandomReadRig(Depth, RingFdRegistered, MaxBatch, FixedFileAndBuffers, ringPolling: false);

    [GlobalCleanup]
    public void Cleanup() => _rig.Dispose();

    [Benchmark(OperationsPerInvoke = RandomReadRig.Reads)]
    public Task<long> Read() => _rig.ReadAsync();
}
