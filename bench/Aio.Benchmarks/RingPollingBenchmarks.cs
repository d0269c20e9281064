using BenchmarkDotNet.Attributes;

namespace Aio.Benchmarks;

/// <summary>
/// Pins busy-polling the ring for block completions before the loop sleeps (the adaptive window with QEMU's 32 µs
/// ceiling) against polling off, which is what a loop with only block requests did before it: 4 KiB random O_DIRECT
/// reads of a tmpfs file through a <see cref="BlockFile"/>, with the ring fd registered and batches of 16.
/// </summary>
/// <remarks><c>dotnet run -c Release --project bench/Aio.Benchmarks -- --filter '*RingPolling*'</c>; needs /dev/shm with O_DIRECT (kernel 6.6+).</remarks>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 9)]
public class RingPollingBenchmarks
{
    private RandomReadRig _rig = null!;

    [Params(1, 32)]
    public int Depth { get; set; }

    [Params(false, true)]
    public bool RingPolling { get; set; }

    [GlobalSetup]
    public void Setup() => _rig = new RandomReadRig(Depth, ringFdRegistered: true, maxBatch: 16, fixedFileAndBuffers: true, RingPolling);

    [GlobalCleanup]
    public void Cleanup() => _rig.Dispose();

    [Benchmark(OperationsPerInvoke = RandomReadRig.Reads)]
    public Task<long> Read() => _rig.ReadAsync();
}
