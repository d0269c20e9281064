using Aio.Interop;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Block;

public class BlockFileTests
{
    public static TheoryData<BlockEngine, bool> Engines
    {
        get
        {
            var data = new TheoryData<BlockEngine, bool> { { BlockEngine.Threads, false }, { BlockEngine.Threads, true } };
            if (MonitorKinds.IoUringAvailable)
            {
                data.Add(BlockEngine.IoUring, false);
                data.Add(BlockEngine.IoUring, true);
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Random_reads_and_writes_match_a_reference(BlockEngine engine, bool direct)
    {
        using var dir = new TempDir();
        const int Size = 8 << 20;
        var (path, content) = dir.CreateFile("disk", Size, seed: 7);
        var reference = (byte[])content.Clone();
        using var io = IoThread.Start("block-" + engine + direct);
        await using var file = BlockFile.Open(io.Context, path, new BlockFileOptions { Direct = direct, Engine = engine });
        Assert.Equal(engine, file.Engine);
        Assert.Equal(Size, file.Length);
        Assert.Equal(direct ? 4096 : 1, direct ? Math.Max(4096, file.Alignment) : file.Alignment);
        int align = Math.Max(file.Alignment, 4096);
        using var buffer = new AlignedBuffer(1 << 20, align);
        var rng = new Random(1234);
        for (int i = 0; i < 200; i++)
        {
            int blocks = rng.Next(1, 257);               // 4 KiB .. 1 MiB
            int length = blocks * 4096;
            long offset = (long)rng.Next(0, (Size - length) / 4096 + 1) * 4096;
            var memory = buffer.Memory[..length];
            if (rng.Next(2) == 0)
            {
                rng.NextBytes(memory.Span);
                Assert.Equal(length, await file.WriteAsync(memory, offset).Within("a write"));
                memory.Span.CopyTo(reference.AsSpan((int)offset, length));
            }
            else
            {
                Assert.Equal(length, await file.ReadAsync(memory, offset).Within("a read"));
                Assert.True(memory.Span.SequenceEqual(reference.AsSpan((int)offset, length)), $"read {i} at {offset}+{length} differs");
            }
        }

        await file.FlushAsync().Within("the flush");
        Assert.Equal(reference, await File.ReadAllBytesAsync(path));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Read_past_the_end_is_zero_filled(BlockEngine engine, bool direct)
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("short", 4096 + 100);
        using var io = IoThread.Start("eof");
        await using var file = BlockFile.Open(io.Context, path, new BlockFileOptions { Direct = direct, Engine = engine, ReadOnly = true });
        using var buffer = new AlignedBuffer(3 * 4096);
        buffer.GetSpan().Fill(0xEE);
        Assert.Equal(3 * 4096, await file.ReadAsync(buffer.Memory, 0).Within("the read across the end"));
        Assert.True(buffer.GetSpan()[..(4096 + 100)].SequenceEqual(content));
        Assert.True(buffer.GetSpan()[(4096 + 100)..].IndexOfAnyExcept((byte)0) < 0, "the tail past the end must be zeroes");

        buffer.GetSpan().Fill(0xEE);
        Assert.Equal(4096, await file.ReadAsync(buffer.Memory[..4096], 1 << 20).Within("the read past the end"));
        Assert.True(buffer.GetSpan()[..4096].IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void Misaligned_direct_io_is_rejected_before_anything_is_submitted()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("aligned", 65536);
        using var ctx = AioContext.Create();
        using var file = BlockFile.Open(ctx, path, new BlockFileOptions { Direct = true });
        using var buffer = new AlignedBuffer(16384);
        ctx.Poll(false);
        long submitted = ctx.Statistics.SqesSubmitted;
        int a = file.Alignment;
        Assert.True(a >= 512, $"alignment {a}");
        Assert.Throws<ArgumentException>(() => file.ReadAsync(buffer.Memory[1..(a + 1)], 0));
        Assert.Throws<ArgumentException>(() => file.ReadAsync(buffer.Memory[..a], a + (a / 2)));
        Assert.Throws<ArgumentException>(() => file.ReadAsync(buffer.Memory[..(a - 1)], 0));
        Assert.Throws<ArgumentException>(() => file.WriteAsync(buffer.Memory[..(a + 3)], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => file.ReadAsync(buffer.Memory[..4096], -4096));

        // Misuse is misuse with a cancelled token too: thrown, not a cancelled ValueTask.
        Assert.Throws<ArgumentException>(() => file.ReadAsync(buffer.Memory[..a], a + (a / 2), new CancellationToken(canceled: true)));
        Assert.Throws<ArgumentException>(() => file.WriteAsync(buffer.Memory[..(a + 3)], 0, new CancellationToken(canceled: true)));

        // offset + length past 2^63 - 1 (aligned, so only the overflow is wrong): refused before the kernel sees it.
        long last = long.MaxValue / a * a;
        Assert.Throws<ArgumentOutOfRangeException>(() => file.ReadAsync(buffer.Memory[..(2 * a)], last));
        Assert.Throws<ArgumentOutOfRangeException>(() => file.WriteAsync(buffer.Memory[..(2 * a)], last));
        ctx.Poll(false);
        Assert.Equal(submitted, ctx.Statistics.SqesSubmitted);
    }

    [Fact]
    public void Missing_path_is_ENOENT()
    {
        // Issue 15: DirectoryNotFoundException as File.OpenHandle throws, the errno kept in the inner AioException.
        using var ctx = AioContext.Create();
        var ex = Assert.Throws<DirectoryNotFoundException>(() => BlockFile.Open(ctx, "/nonexistent/aio/" + Guid.NewGuid()));
        Assert.Equal(Errno.ENOENT, Assert.IsType<AioException>(ex.InnerException).Errno);
        Assert.Contains("ENOENT", ex.Message);
    }

    [Fact]
    public async Task Read_only_file_refuses_writes()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("ro", 4096);
        using var ctx = AioContext.Create();
        await using var file = BlockFile.Open(ctx, path, new BlockFileOptions { ReadOnly = true });
        Assert.Throws<InvalidOperationException>(() => file.WriteAsync(new byte[16], 0));
    }

    [Fact]
    public void Io_uring_engine_without_io_uring_is_not_supported()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("x", 4096);
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Poll });
        Assert.Throws<NotSupportedException>(() => BlockFile.Open(ctx, path, new BlockFileOptions { Engine = BlockEngine.IoUring }));
        using var auto = BlockFile.Open(ctx, path);
        Assert.Equal(BlockEngine.Threads, auto.Engine);
    }

    [Fact]
    public void Aligned_buffer_is_aligned_and_validates_arguments()
    {
        using var b = new AlignedBuffer(8192, 4096);
        Assert.Equal(0, b.Address % 4096);
        Assert.Equal(8192, b.Memory.Length);
        Assert.True(b.GetSpan().IndexOfAnyExcept((byte)0) < 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => new AlignedBuffer(10, 3000));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AlignedBuffer(-1));
    }
}
