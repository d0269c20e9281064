namespace Aio.TestHelper;

/// <summary>
/// The Threads engine with its blocking calls slowed down by strace (<c>delay_enter</c>), so that the caller's
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
}
