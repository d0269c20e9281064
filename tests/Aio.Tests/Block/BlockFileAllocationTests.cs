using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Block;

/// <summary>BlockFile's space management (GetExtent, TryPunchHole, TryZeroRange, Prefetch) on real files.</summary>
public class BlockFileAllocationTests
{
    private const int K64 = 64 * 1024;

    [Fact]
    public void GetExtent_reports_the_data_and_the_holes_of_a_sparse_file()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "sparse");
        using (var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(handle, 16 * K64);
            RandomAccess.Write(handle, Pattern(K64, 3), 4 * K64);
        }

        using var ctx = AioContext.Create();
        using var file = BlockFile.Open(ctx, path);
        var first = file.GetExtent(0, 16 * K64);
        if (!first.IsHole)
        {
            // A file system that keeps no holes: it must then call the whole range data, in one run.
            Assert.Equal(new BlockExtent(0, 16 * K64, IsHole: false), first);
            return;
        }

        Assert.Equal(new BlockExtent(0, 4 * K64, IsHole: true), first);
        Assert.Equal(new BlockExtent(4 * K64, K64, IsHole: false), file.GetExtent(4 * K64, 16 * K64));
        Assert.Equal(new BlockExtent(5 * K64, 11 * K64, IsHole: true), file.GetExtent(5 * K64, 11 * K64));

        // maxLength caps every answer; a run may start in the middle of data.
        Assert.Equal(new BlockExtent(K64, 100, IsHole: true), file.GetExtent(K64, 100));
        Assert.Equal(new BlockExtent(4 * K64 + 10, K64 - 10, IsHole: false), file.GetExtent(4 * K64 + 10, 16 * K64));

        // Past the end of the file everything reads as zeros: a hole.
        Assert.Equal(new BlockExtent(32 * K64, 4096, IsHole: true), file.GetExtent(32 * K64, 4096));
    }

    [Fact]
    public async Task TryPunchHole_makes_a_range_read_zeros_and_a_hole_and_keeps_the_length()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("full", 8 * K64, seed: 5);
        using var io = IoThread.Start("punch");
        await using var file = BlockFile.Open(io.Context, path);
        Assert.False(file.GetExtent(2 * K64, 2 * K64).IsHole);

        if (!file.TryPunchHole(2 * K64, 2 * K64))
        {
            // No hole punching here: nothing may have changed.
            Assert.Equal(content, await File.ReadAllBytesAsync(path));
            return;
        }

        // Past the end: nothing to free, and the file must not grow.
        Assert.True(file.TryPunchHole(8 * K64, K64));
        Assert.Equal(8 * K64, file.Length);

        var expected = (byte[])content.Clone();
        Array.Clear(expected, 2 * K64, 2 * K64);
        var back = new byte[8 * K64];
        Assert.Equal(back.Length, await file.ReadAsync(back, 0).Within("the read of the file"));
        Assert.Equal(expected, back);
        Assert.Equal(new BlockExtent(2 * K64, 2 * K64, IsHole: true), file.GetExtent(2 * K64, 6 * K64));
    }

    [Fact]
    public async Task TryZeroRange_makes_a_range_read_zeros_without_changing_the_length_or_it_changes_nothing()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("full", 8 * K64, seed: 6);
        using var io = IoThread.Start("zero-range");
        await using var file = BlockFile.Open(io.Context, path);
        var expected = (byte[])content.Clone();
        if (file.TryZeroRange(K64 + 100, K64))
        {
            Array.Clear(expected, K64 + 100, K64);

            // The range stays allocated (ZERO_RANGE, unlike PUNCH_HOLE).
            Assert.False(file.GetExtent(K64 + 100, K64).IsHole, "TryZeroRange deallocated the range");

            // A range running past the end zeroes up to it and does not make the file longer.
            Assert.True(file.TryZeroRange(7 * K64, 4 * K64));
            Array.Clear(expected, 7 * K64, K64);
        }

        Assert.Equal(8 * K64, file.Length);
        var back = new byte[8 * K64];
        Assert.Equal(back.Length, await file.ReadAsync(back, 0).Within("the read of the file"));
        Assert.Equal(expected, back);
    }

    [Fact]
    public async Task Prefetch_changes_no_data_and_an_empty_range_does_nothing()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("cache", 4 * K64, seed: 8);
        using var io = IoThread.Start("prefetch");
        await using var file = BlockFile.Open(io.Context, path, new BlockFileOptions { ReadOnly = true });
        file.Prefetch(0, 4 * K64);
        file.Prefetch(K64, 0);
        file.Prefetch(64 * K64, K64);
        var back = new byte[4 * K64];
        Assert.Equal(back.Length, await file.ReadAsync(back, 0).Within("the read of the file"));
        Assert.Equal(content, back);
    }

    [Fact]
    public void Space_management_misuse_throws_before_touching_the_file()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("misuse", 2 * K64, seed: 9);
        using var ctx = AioContext.Create();
        using (var file = BlockFile.Open(ctx, path))
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => file.GetExtent(-1, 10));
            Assert.Throws<ArgumentOutOfRangeException>(() => file.GetExtent(0, 0));
            Assert.Throws<ArgumentOutOfRangeException>(() => file.GetExtent(10, long.MaxValue));
            Assert.Throws<ArgumentOutOfRangeException>(() => file.TryPunchHole(0, -1));
            Assert.Throws<ArgumentOutOfRangeException>(() => file.TryZeroRange(-5, 1));
            Assert.Throws<ArgumentOutOfRangeException>(() => file.TryZeroRange(1, long.MaxValue));
            Assert.Throws<ArgumentOutOfRangeException>(() => file.Prefetch(0, -1));

            // An empty range is done at once (fallocate itself would refuse it).
            Assert.True(file.TryPunchHole(K64, 0));
            Assert.True(file.TryZeroRange(K64, 0));
            file.Dispose();
            Assert.Throws<ObjectDisposedException>(() => file.GetExtent(0, 1));
            Assert.Throws<ObjectDisposedException>(() => file.TryPunchHole(0, 1));
            Assert.Throws<ObjectDisposedException>(() => file.TryZeroRange(0, 1));
            Assert.Throws<ObjectDisposedException>(() => file.Prefetch(0, 1));
        }

        using (var readOnly = BlockFile.Open(ctx, path, new BlockFileOptions { ReadOnly = true }))
        {
            Assert.Throws<InvalidOperationException>(() => readOnly.TryPunchHole(0, K64));
            Assert.Throws<InvalidOperationException>(() => readOnly.TryZeroRange(0, K64));
            Assert.False(readOnly.GetExtent(0, 2 * K64).IsHole);
        }

        Assert.Equal(content, File.ReadAllBytes(path));
    }

    [Fact]
    public void IsDisposed_turns_true_when_the_context_is_disposed()
    {
        var ctx = AioContext.Create();
        Assert.False(ctx.IsDisposed);
        ctx.Dispose();
        Assert.True(ctx.IsDisposed);
    }

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public void ZeroRangeMayWrite_is_false_for_a_regular_file()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("regular", K64);
        using var ctx = AioContext.Create();
        using var file = BlockFile.Open(ctx, path);
        Assert.False(file.ZeroRangeMayWrite);
    }

    [LoopDeviceFact]
    public void ZeroRangeMayWrite_of_a_block_device_follows_its_queues_write_zeroes_limit()
    {
        using var device = LoopDevice.TryCreate(16 << 20, out string why);
        Assert.True(device is not null, why);
        bool noWriteZeroes = File.ReadAllText($"/sys/block/{device!.Name}/queue/write_zeroes_max_bytes").Trim() == "0";
        using var ctx = AioContext.Create();
        using var file = BlockFile.Open(ctx, device.Path);
        Assert.Equal(16L << 20, file.Length);
        Assert.Equal(noWriteZeroes, file.ZeroRangeMayWrite);
    }
}
