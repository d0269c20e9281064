using System.Diagnostics;

namespace Aio.Cli;

/// <summary>
/// <c>aio iotest</c>: the scenario of seed 002. Reads the file with O_DIRECT in 128 KiB requests, in batches of 16,
/// sleeping 1 ms before submitting each batch and 1 ms after handling each completion. The requests are submitted
/// from this thread, not the loop's: the loop runs in an IoThread that is otherwise idle, so it only learns of the
/// requests through the wake-up that AddSqe sends. Without it (QEMU before the fix) each batch waited for the next
/// timer: 25.76 s instead of 1.25 s.
/// </summary>
internal static class IoTest
{
    private static void Pause(ref long pauses, ref long sleptTicks)
    {
        long start = Stopwatch.GetTimestamp();
        Thread.Sleep(1);
        sleptTicks += Stopwatch.GetTimestamp() - start;
        pauses++;
    }

    public const int RequestSize = 128 * 1024;
    public const int BatchSize = 16;

    /// <exception cref="UsageException">The file is shorter than one request.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled (checked between batches).</exception>
    public static (double Elapsed, double Ideal, double Slept) Run(string path, long size, FdMonitorKind? monitor, CancellationToken ct = default)
    {
        using var loop = IoThread.Start("iotest", new AioContextOptions { Monitor = monitor });
        using var file = BlockFile.Open(loop.Context, path, new BlockFileOptions { Direct = true, ReadOnly = true });
        if (file.Length < RequestSize)
        {
            // One request would read past the end: a short read, not the scenario.
            throw new UsageException($"{path} is shorter than one {RequestSize / 1024} KiB request ({file.Length} bytes)");
        }

        long requests = Math.Max(1, Math.Min(size, file.Length) / RequestSize);
        var buffers = Enumerable.Range(0, BatchSize).Select(_ => new AlignedBuffer(RequestSize, Math.Max(4096, file.Alignment))).ToArray();
        var pending = new ValueTask<int>[BatchSize];
        int issued = 0;
        int consumed = 0;
        long pauses = 0;
        long sleptTicks = 0;
        try
        {
            var sw = Stopwatch.StartNew();
            for (long done = 0; done < requests;)
            {
                ct.ThrowIfCancellationRequested();
                int batch = (int)Math.Min(BatchSize, requests - done);
                Pause(ref pauses, ref sleptTicks);
                issued = 0;
                consumed = 0;
                for (int i = 0; i < batch; i++)
                {
                    pending[i] = file.ReadAsync(buffers[i].Memory, (done + i) * RequestSize);
                    issued++;
                }

                for (int i = 0; i < batch; i++)
                {
                    consumed++;
                    int n = pending[i].AsTask().GetAwaiter().GetResult();
                    if (n != RequestSize)
                    {
                        throw new InvalidDataException($"short read: {n} bytes");
                    }

                    Pause(ref pauses, ref sleptTicks);
                }

                done += batch;
            }

            return (sw.Elapsed.TotalSeconds, pauses / 1000.0, Stopwatch.GetElapsedTime(0, sleptTicks).TotalSeconds);
        }
        finally
        {
            // A failure mid-batch leaves later reads of the batch in flight: the kernel may still write into their
            // buffers, so they are freed only once every read issued on them has completed.
            for (int i = consumed; i < issued; i++)
            {
                try
                {
                    pending[i].AsTask().GetAwaiter().GetResult();
                }
                catch (Exception)
                {
                    // The first failure is the one being reported.
                }
            }

            foreach (var b in buffers)
            {
                ((IDisposable)b).Dispose();
            }
        }
    }
}
