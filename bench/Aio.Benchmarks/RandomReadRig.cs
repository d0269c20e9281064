using Microsoft.Win32.SafeHandles;

namespace Aio.Benchmarks;

/// <summary>
/// The set-up both random-read benchmarks share: a 64 MiB tmpfs file, a loop on a thread of its own (an
/// <see cref="IoThread"/> always registers its ring fd, which one benchmark switches), and 4 KiB random O_DIRECT reads
/// at a given depth, through a <see cref="BlockFile"/> (fixed file and buffers) or a plain read on the fd.
/// </summary>
internal sealed class RandomReadRig : IDisposable
{
    /// <summary>Reads per benchmark invocation, divided among the readers.</summary>
    public const int Reads = 16384;

    private const int Blocks = (64 << 20) / 4096;
    private readonly string _path;
    private readonly AioContext _ctx;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _loop;
    private readonly BlockFile _file;
    private readonly SafeFileHandle _plain;
    private readonly AlignedBuffer[] _buffers;
    private readonly bool _fixed;

    public RandomReadRig(int depth, bool ringFdRegistered, int maxBatch, bool fixedFileAndBuffers, bool ringPolling)
    {
        _fixed = fixedFileAndBuffers;
        _path = Path.Combine("/dev/shm", $"aio-bench-rr-{Environment.ProcessId}.dat");
        var data = new byte[Blocks * 4096];
        new Random(1).NextBytes(data);
        File.WriteAllBytes(_path, data);

        _ctx = AioContext.Create(new AioContextOptions
        {
            Name = "bench-rr",
            RegisterRingFd = ringFdRegistered,
            PollMaxNs = ringPolling ? IoThread.DefaultPollMaxNs : 0,
        });
        _ctx.SetAioParameters(maxBatch);
        _loop = new Thread(() => _ctx.Run(_stop.Token)) { Name = "bench-rr", IsBackground = true };
        _loop.Start();

        _file = _ctx.InvokeAsync(() => Task.FromResult(BlockFile.Open(_ctx, _path, new BlockFileOptions { Direct = true, ReadOnly = true }))).GetAwaiter().GetResult();
        _plain = File.OpenHandle(_path, FileMode.Open, FileAccess.Read, FileShare.Read, (FileOptions)0x20000000 /* NoBuffering: O_DIRECT on Linux */);
        _buffers = new AlignedBuffer[depth];
        for (int i = 0; i < depth; i++)
        {
            _buffers[i] = new AlignedBuffer(4096);
        }
    }

    /// <summary>Runs <see cref="Reads"/> reads on the loop, one reader per depth slot, each awaiting its own in turn.</summary>
    public Task<long> ReadAsync() => _ctx.InvokeAsync(async () =>
    {
        var readers = new Task<long>[_buffers.Length];
        for (int i = 0; i < readers.Length; i++)
        {
            readers[i] = ReadManyAsync(_buffers[i], i, Reads / readers.Length);
        }

        long total = 0;
        foreach (var reader in readers)
        {
            total += await reader;
        }

        return total;
    });

    public void Dispose()
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
            total += _fixed
                ? await _file.ReadAsync(buffer.Memory, offset)
                : await _ctx.ReadAsync(_plain, buffer.Memory, offset);
        }

        return total;
    }
}
