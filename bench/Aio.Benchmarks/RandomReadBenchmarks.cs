using BenchmarkDotNet.Attributes;
using Microsoft.Win32.SafeHandles;

namespace Aio.Benchmarks;

/// <summary>
/// 4 KiB random O_DIRECT reads of a tmpfs file, on one loop, at depth 1 and 32: the CPU-bound case, where every cycle
/// the loop spends per read shows. Pins the changes made to come close to a bare liburing loop, each on its own:
/// the registered ring fd (enter without an fdget), aio-max-batch 16 instead of 4 (fewer enters per batch), and
/// registered file and buffers (READ_FIXED on a fixed file vs a plain READ on the fd), and busy-polling the ring for
/// block completions before sleeping (the adaptive window with QEMU's 32 µs ceiling, vs polling off).
/// </summary>
/// <remarks><c>dotnet run -c Release --project bench/Aio.Benchmarks -- --filter '*RandomRead*'</c>; needs /dev/shm with O_DIRECT (kernel 6.6+).</remarks>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 7)]
public class RandomReadBenchmarks
{
    private const int Reads = 16384;
    private const int Blocks = (64 << 20) / 4096;
    private string _path = null!;
    private AioContext _ctx = null!;
    private CancellationTokenSource _stop = null!;
    private Thread _loop = null!;
    private BlockFile _file = null!;
    private SafeFileHandle _plain = null!;
    private AlignedBuffer[] _buffers = null!;

    [Params(1, 32)]
    public int Depth { get; set; }

    [Params(false, true)]
    public bool RingFdRegistered { get; set; }

    [Params(4, 16)]
    public int MaxBatch { get; set; }

    [Params(false, true)]
    public bool FixedFileAndBuffers { get; set; }

    [Params(false, true)]
    public bool RingPolling { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _path = Path.Combine("/dev/shm", $"aio-bench-rr-{Environment.ProcessId}.dat");
        var data = new byte[Blocks * 4096];
        new Random(1).NextBytes(data);
        File.WriteAllBytes(_path, data);

        // A loop thread of our own rather than an IoThread, which always registers its ring fd.
        _ctx = AioContext.Create(new AioContextOptions { Name = "bench-rr", RegisterRingFd = RingFdRegistered, PollMaxNs = RingPolling ? IoThread.DefaultPollMaxNs : 0 });
        _ctx.SetAioParameters(MaxBatch);
        _stop = new CancellationTokenSource();
        _loop = new Thread(() => _ctx.Run(_stop.Token)) { Name = "bench-rr", IsBackground = true };
        _loop.Start();

        _file = _ctx.InvokeAsync(() => Task.FromResult(BlockFile.Open(_ctx, _path, new BlockFileOptions { Direct = true, ReadOnly = true }))).GetAwaiter().GetResult();
        _plain = File.OpenHandle(_path, FileMode.Open, FileAccess.Read, FileShare.Read, (FileOptions)0x20000000 /* NoBuffering: O_DIRECT on Linux */);
        _buffers = new AlignedBuffer[Depth];
        for (int i = 0; i < Depth; i++)
        {
            _buffers[i] = new AlignedBuffer(4096);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ctx.InvokeAsync(() =>
        {
            _file.Dispose();
            return Task.CompletedTask;
        }).GetAwaiter().GetResult();
        foreach (var buffer in _buffers)
        {
            ((IDisposable)buffer).Dispose();
        }

        _stop.Cancel();
        _loop.Join();
        _ctx.Dispose();
        _plain.Dispose();
        File.Delete(_path);
    }

    [Benchmark(OperationsPerInvoke = Reads)]
    public Task<long> Read() => _ctx.InvokeAsync(async () =>
    {
        var readers = new Task<long>[Depth];
        for (int i = 0; i < Depth; i++)
        {
            readers[i] = ReadManyAsync(_buffers[i], i, Reads / Depth);
        }

        long total = 0;
        foreach (var reader in readers)
        {
            total += await reader;
        }

        return total;
    });

    private async Task<long> ReadManyAsync(AlignedBuffer buffer, int seed, int count)
    {
        // A cheap, fixed pseudo-random walk over the blocks (no Random on the hot path).
        uint x = (uint)(seed * 2654435761u) | 1u;
        long total = 0;
        for (int i = 0; i < count; i++)
        {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            long offset = (x % Blocks) * 4096L;
            total += FixedFileAndBuffers
                ? await _file.ReadAsync(buffer.Memory, offset)
                : await _ctx.ReadAsync(_plain, buffer.Memory, offset);
        }

        return total;
    }
}
