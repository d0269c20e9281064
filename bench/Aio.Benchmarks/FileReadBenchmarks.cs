using BenchmarkDotNet.Attributes;
using Microsoft.Win32.SafeHandles;

namespace Aio.Benchmarks;

/// <summary>4 KiB reads from the page cache, one at a time: ring-backed ReadAsync awaited on the loop vs .NET RandomAccess.</summary>
[MemoryDiagnoser]
public class FileReadBenchmarks
{
    private const int Reads = 1000;
    private string _path = null!;
    private SafeFileHandle _file = null!;
    private IoThread _io = null!;
    private byte[] _buffer = null!;

    [GlobalSetup]
    public void Setup()
    {
        _path = Path.Combine(Path.GetTempPath(), $"aio-bench-read-{Environment.ProcessId}.dat");
        var data = new byte[4 << 20];
        new Random(1).NextBytes(data);
        File.WriteAllBytes(_path, data);
        _file = File.OpenHandle(_path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        _io = IoThread.Start("bench-read");
        _buffer = GC.AllocateArray<byte>(4096, pinned: true);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _io.Dispose();
        _file.Dispose();
        File.Delete(_path);
    }

    [Benchmark(OperationsPerInvoke = Reads, Description = "AioContext.ReadAsync 4 KiB (io_uring, on the loop)")]
    public Task<long> RingRead() => _io.Context.InvokeAsync(async () =>
    {
        long total = 0;
        var ctx = AioContext.Current!;
        for (int i = 0; i < Reads; i++)
        {
            total += await ctx.ReadAsync(_file, _buffer, (i % 1024) * 4096L);
        }

        return total;
    });

    [Benchmark(Baseline = true, OperationsPerInvoke = Reads, Description = "RandomAccess.ReadAsync 4 KiB (thread pool)")]
    public async Task<long> RandomAccessRead()
    {
        long total = 0;
        for (int i = 0; i < Reads; i++)
        {
            total += await RandomAccess.ReadAsync(_file, _buffer, (i % 1024) * 4096L);
        }

        return total;
    }
}
