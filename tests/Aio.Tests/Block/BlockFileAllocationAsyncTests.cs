using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Block;

/// <summary>
/// TryPunchHoleAsync and TryZeroRangeAsync on real files, with both engines: the same answers and the same file as the
/// synchronous calls, misuse refused before anything is queued, and the file held by an accepted request.
/// </summary>
public class BlockFileAllocationAsyncTests
{
    private const int K64 = 64 * 1024;

    [IoUringFact]
    public Task On_the_ring_the_async_calls_leave_the_file_as_the_synchronous_ones_do()
        => LeaveTheFileAsTheSynchronousOnesDo(BlockEngine.IoUring, onRing: true);

    [Fact]
    public Task On_the_pool_the_async_calls_leave_the_file_as_the_synchronous_ones_do()
        => LeaveTheFileAsTheSynchronousOnesDo(BlockEngine.Threads, onRing: false);

    [IoUringFact]
    public Task A_ring_without_FALLOCATE_runs_the_calls_on_the_pool()
        => LeaveTheFileAsTheSynchronousOnesDo(BlockEngine.IoUring, onRing: false, new AioContextOptions { SimulatedMissingOpcodes = [IoUringOpcode.Fallocate] });

    [IoUringFact]
    public Task On_the_ring_misuse_throws_from_the_call_and_changes_nothing() => MisuseThrowsFromTheCall(BlockEngine.IoUring);

    [Fact]
    public Task On_the_pool_misuse_throws_from_the_call_and_changes_nothing() => MisuseThrowsFromTheCall(BlockEngine.Threads);

    [IoUringFact]
    public Task On_the_ring_a_request_accepted_before_Dispose_still_runs_on_the_open_file() => AcceptedBeforeDisposeRuns(BlockEngine.IoUring);

    [Fact]
    public Task On_the_pool_a_request_accepted_before_Dispose_still_runs_on_the_open_file() => AcceptedBeforeDisposeRuns(BlockEngine.Threads);

    private static async Task LeaveTheFileAsTheSynchronousOnesDo(BlockEngine engine, bool onRing, AioContextOptions? options = null)
    {
        using var dir = new TempDir();
        var (asyncPath, content) = dir.CreateFile("async", 8 * K64, seed: 11);
        var (syncPath, _) = dir.CreateFile("sync", 8 * K64, seed: 11);
        using var io = IoThread.Start("fallocate-async", options);
        await using var file = BlockFile.Open(io.Context, asyncPath, new BlockFileOptions { Engine = engine });
        await using var reference = BlockFile.Open(io.Context, syncPath, new BlockFileOptions { Engine = BlockEngine.Threads });

        // A hole in the middle, a zeroed range off the block boundaries, and both past the end of the file.
        Assert.Equal(reference.TryPunchHole(2 * K64, 2 * K64), await file.TryPunchHoleAsync(2 * K64, 2 * K64).Within("the first punched hole"));
        Assert.Equal(reference.TryZeroRange(5 * K64 + 100, K64), await file.TryZeroRangeAsync(5 * K64 + 100, K64).Within("the first zeroed range"));
        Assert.Equal(reference.TryPunchHole(7 * K64, 4 * K64), await file.TryPunchHoleAsync(7 * K64, 4 * K64).Within("the hole past the end"));
        Assert.Equal(reference.TryZeroRange(8 * K64, K64), await file.TryZeroRangeAsync(8 * K64, K64).Within("the zeroed range past the end"));

        // The path the calls took: four ring requests, or four pool work items.
        Assert.Equal(onRing ? 0 : 4, file.FallocatesOnPool);

        Assert.Equal(8 * K64, file.Length);
        var expected = await File.ReadAllBytesAsync(syncPath);
        Assert.NotEqual(content, expected);
        Assert.Equal(expected, await File.ReadAllBytesAsync(asyncPath));
        Assert.Equal(reference.GetExtent(2 * K64, 6 * K64), file.GetExtent(2 * K64, 6 * K64));
    }

    private static async Task MisuseThrowsFromTheCall(BlockEngine engine)
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("misuse", 2 * K64, seed: 12);
        using var io = IoThread.Start("fallocate-misuse");
        var options = new BlockFileOptions { Engine = engine };
        using (var file = BlockFile.Open(io.Context, path, options))
        {
            // Thrown by the call itself, not by the await: nothing was queued.
            Assert.Throws<ArgumentOutOfRangeException>(() => { _ = file.TryPunchHoleAsync(-1, K64); });
            Assert.Throws<ArgumentOutOfRangeException>(() => { _ = file.TryZeroRangeAsync(0, -1); });
            Assert.Throws<ArgumentOutOfRangeException>(() => { _ = file.TryZeroRangeAsync(1, long.MaxValue); });

            // An empty range is done at once; a cancelled token queues nothing.
            var empty = file.TryPunchHoleAsync(K64, 0);
            Assert.True(empty.IsCompletedSuccessfully && empty.Result);
            var cancelled = file.TryPunchHoleAsync(0, K64, new CancellationToken(canceled: true));
            Assert.True(cancelled.IsCanceled);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cancelled);

            file.Dispose();
            Assert.Throws<ObjectDisposedException>(() => { _ = file.TryPunchHoleAsync(0, K64); });
            Assert.Throws<ObjectDisposedException>(() => { _ = file.TryZeroRangeAsync(0, K64); });
        }

        using (var readOnly = BlockFile.Open(io.Context, path, new BlockFileOptions { Engine = engine, ReadOnly = true }))
        {
            Assert.Throws<InvalidOperationException>(() => { _ = readOnly.TryPunchHoleAsync(0, K64); });
            Assert.Throws<InvalidOperationException>(() => { _ = readOnly.TryZeroRangeAsync(0, K64); });
        }

        Assert.Equal(content, await File.ReadAllBytesAsync(path));
    }

    private static async Task AcceptedBeforeDisposeRuns(BlockEngine engine)
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("held", 4 * K64, seed: 13);
        using var io = IoThread.Start("fallocate-held");
        var file = BlockFile.Open(io.Context, path, new BlockFileOptions { Engine = engine });
        var zero = file.TryZeroRangeAsync(K64, K64);
        file.Dispose();

        // Not ObjectDisposedException nor EBADF: the request holds the fd until it has ended.
        bool zeroed = await zero.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var expected = (byte[])content.Clone();
        if (zeroed)
        {
            Array.Clear(expected, K64, K64);
        }

        Assert.Equal(expected, await File.ReadAllBytesAsync(path));
    }

    [IoUringFact]
    public async Task A_file_system_that_cannot_zero_a_range_gets_false_from_the_ring_and_keeps_its_data()
    {
        // tmpfs punches holes but has no ZERO_RANGE (EOPNOTSUPP): a refusal the kernel makes for real, on the ring.
        Assert.True(Directory.Exists("/dev/shm"), "/dev/shm (tmpfs) is missing");
        string path = Path.Combine("/dev/shm", $"aio-zero-range-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var content = new byte[4 * K64];
        new Random(14).NextBytes(content);
        await File.WriteAllBytesAsync(path, content);
        try
        {
            using var io = IoThread.Start("fallocate-tmpfs");
            await using var file = BlockFile.Open(io.Context, path, new BlockFileOptions { Engine = BlockEngine.IoUring });
            Assert.False(file.TryZeroRange(K64, K64), "tmpfs zeroed a range: the test needs a file system that cannot");
            Assert.False(await file.TryZeroRangeAsync(K64, K64).Within("the refused zeroed range"));
            Assert.Equal(content, await File.ReadAllBytesAsync(path));

            Assert.True(await file.TryPunchHoleAsync(K64, K64).Within("the punched hole"));
            Array.Clear(content, K64, K64);
            Assert.Equal(content, await File.ReadAllBytesAsync(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
