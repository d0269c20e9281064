namespace Aio.TestHelper;

/// <summary>
/// The Threads engine under strace faults. Slowed-down calls (<c>delay_enter</c>): the caller's
/// Dispose lands while the call is queued or running: the request must hold the buffer and the file as a ring request
/// does.
/// </summary>
internal static class BlockScenarios
{
    public static void ThreadsEngineHoldsBufferAndFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"aio-threads-hold-{Environment.ProcessId}-{Guid.NewGuid():N}.img");
        const int Length = 256 * 1024;
        var data = new byte[Length];
        new Random(7).NextBytes(data);
        File.WriteAllBytes(path, data);
        try
        {
            using var ctx = AioContext.Create();
            using var file = BlockFile.Open(ctx, path, new BlockFileOptions { Engine = BlockEngine.Threads });

            // A mapped AlignedBuffer (over 128 KiB): freed under the read, pread would fail with EFAULT.
            var buffer = new AlignedBuffer(Length);
            var read = file.ReadAsync(buffer.Memory, 0).AsTask();
            ((IDisposable)buffer).Dispose();
            Report.Check(!buffer.IsFreed, "a buffer disposed under a queued read is not freed", "it was freed at once");
            try
            {
                int n = read.Wait(TimeSpan.FromSeconds(10)) ? read.Result : -1;
                Report.Saw($"the read returned {n}");
            }
            catch (AggregateException ex) when (ex.InnerException is ObjectDisposedException)
            {
                // The blocking call found the buffer disposed before it started: nothing was written.
                Report.Saw("the read ended with ObjectDisposedException");
            }
            catch (AggregateException ex)
            {
                Report.Fail($"the read failed: {ex.InnerException}");
            }

            Report.Check(read.IsCompleted, "the read completed", "still pending after 10 s");
            Report.Check(buffer.IsFreed, "the buffer is freed once the read let go of it", "still allocated");

            var flush = file.FlushAsync().AsTask();
            file.Dispose();
            try
            {
                Report.Check(flush.Wait(TimeSpan.FromSeconds(10)), "a flush accepted before Dispose completes", "still pending after 10 s");
            }
            catch (AggregateException ex)
            {
                Report.Fail($"a flush accepted before Dispose failed: {ex.InnerException}");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// strace makes the first pwrite64 of the pool thread return 100 (a short write off the O_DIRECT alignment, as a
    /// full device may give): the write fails with ENOSPC, as QEMU reports it, not with EINVAL from a misaligned retry.
    /// </summary>
    public static void ThreadsEngineShortDirectWrite(string path)
    {
        using var ctx = AioContext.Create();
        using var file = BlockFile.Open(ctx, path, new BlockFileOptions { Engine = BlockEngine.Threads, Direct = true });
        using var buffer = new AlignedBuffer(file.Alignment * 2, file.Alignment);
        try
        {
            var write = file.WriteAsync(buffer.Memory, 0).AsTask();
            Report.Check(write.Wait(TimeSpan.FromSeconds(10)), "the write completed", "still pending after 10 s");
            Report.Fail($"the short write succeeded ({write.Result} bytes)");
        }
        catch (AggregateException ex) when (ex.InnerException is AioException aio)
        {
            Report.Check(aio.Errno == Aio.Interop.Errno.ENOSPC, "a short O_DIRECT write off the alignment fails with ENOSPC", $"errno {aio.Errno}: {aio.Message}");
        }
    }

    /// <summary>
    /// Every fallocate(2) of the process fails with EIO (strace): the ring's FALLOCATE never makes that call (an io-wq
    /// worker runs it inside the kernel), so it succeeds; the Threads engine's and the synchronous call's fail, each
    /// with the errno and the call's name.
    /// </summary>
    public static void FallocateOnTheRingMakesNoSyscall(string path)
    {
        using var io = IoThread.Start("fallocate");
        Report.Check(io.Context.HasIoUring, "the context has io_uring", "no io_uring: the ring path cannot be checked");
        using (var ring = BlockFile.Open(io.Context, path, new BlockFileOptions { Engine = BlockEngine.IoUring }))
        {
            var punch = ring.TryPunchHoleAsync(0, 64 * 1024).AsTask();
            Report.Check(punch.Wait(TimeSpan.FromSeconds(10)) && punch.Result, "the ring's punch succeeded without fallocate(2)", "it failed or did not finish");
        }

        using var threads = BlockFile.Open(io.Context, path, new BlockFileOptions { Engine = BlockEngine.Threads });
        ExpectEio(() => threads.TryZeroRangeAsync(0, 64 * 1024).AsTask().GetAwaiter().GetResult(), "fallocate(ZERO_RANGE)", "the Threads engine's zero-range");
        ExpectEio(() => threads.TryPunchHole(0, 64 * 1024), "fallocate(PUNCH_HOLE)", "the synchronous punch");
    }

    private static void ExpectEio(Func<bool> call, string name, string what)
    {
        try
        {
            Report.Fail($"{what} returned {call()} under an injected EIO");
        }
        catch (AioException ex)
        {
            Report.Check(ex.Errno == Aio.Interop.Errno.EIO && ex.Message.Contains(name, StringComparison.Ordinal), $"{what} failed with EIO from {name}", ex.Message);
        }
    }
}
