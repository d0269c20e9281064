using Aio.Interop;
using Aio.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit;

namespace Aio.Tests.Async;

/// <summary>
/// Issue 10 items 1, 4, 7 and 13: one use of a pooled ring operation never leaks into another (cancellation,
/// misused GetResult), a throwing preparer fails its own caller, and disposal releases what it may.
/// </summary>
public class OperationLifecycleTests
{
    private static readonly SqePreparer<int> s_nop = static (ref Sqe sqe, int _) => sqe.PrepNop();

    private static SafeFileHandle OpenFile(string path) => File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);

    /// <summary>A blocking pipe (io_uring returns EAGAIN at once for a non-blocking one): reads on it stay in flight.</summary>
    private static (SafeFileHandle Read, SafeFileHandle Write) BlockingPipe()
    {
        var (r, w) = Libc.CreatePipe(flags: 0);
        return (new SafeFileHandle(r, ownsHandle: true), new SafeFileHandle(w, ownsHandle: true));
    }

    /// <summary>Runs <paramref name="body"/> on a plain thread of its own (its own per-thread operation pool), bounded.</summary>
    private static void OnOwnThread(Action body)
    {
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                body();
            }
            catch (Exception ex)
            {
                error = ex;
            }
        })
        { IsBackground = true };
        thread.Start();
        Wait.Join(thread, "the test thread", TimeSpan.FromSeconds(60));
        if (error is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
    }

    private static T Completed<T>(ValueTask<T> task, string what)
    {
        Wait.Until(() => task.IsCompleted, () => Thread.Yield(), what);
        return task.GetAwaiter().GetResult();
    }

    /// <summary>Three round trips through the loop: a cancel posted before it has been submitted and its target's completion delivered.</summary>
    private static void Flush(AioContext ctx)
    {
        for (int i = 0; i < 3; i++)
        {
            Wait.For(ctx.InvokeAsync(() => Task.CompletedTask), "a round trip through the loop");
        }
    }

    [IoUringFact]
    public void Cancelling_a_token_after_its_read_completed_cancels_nothing_else()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("f", 4096);
        using var file = OpenFile(path);
        var (read, write) = BlockingPipe();
        using var readEnd = read;
        using var writeEnd = write;
        using var io = IoThread.Start("stale-cancel");
        OnOwnThread(() =>
        {
            var buffer = new byte[16];
            var drain = new byte[16];
            for (int i = 0; i < 100; i++)
            {
                using var tokenA = new CancellationTokenSource();
                Assert.Equal(16, Completed(io.Context.ReadAsync(file, buffer, 0, tokenA.Token), "the read"));

                // The read's pooled object serves this unrelated wait now (same thread, same pool).
                var wait = io.Context.WaitAsync(readEnd, PollEvents.In);
                tokenA.Cancel();
                Flush(io.Context);
                Assert.False(wait.IsCompleted, $"round {i}: cancelling the finished read's token ended an unrelated wait");
                Assert.Equal(1, Libc.WriteSpan((int)writeEnd.DangerousGetHandle(), [1]));
                Assert.True((Completed(wait, "the wait") & PollEvents.In) != 0);
                Assert.Equal(1, Libc.ReadSpan((int)readEnd.DangerousGetHandle(), drain));
            }
        });
    }

    [IoUringFact]
    public void GetResult_on_an_unfinished_operation_throws_and_releases_nothing()
    {
        var (pipeA, writeA) = BlockingPipe();
        var (pipeB, writeB) = BlockingPipe();
        using var a = pipeA;
        using var wa = writeA;
        using var b = pipeB;
        using var wb = writeB;
        using var io = IoThread.Start("early-getresult");
        OnOwnThread(() =>
        {
            var wait = io.Context.WaitAsync(a, PollEvents.In);
            Assert.False(wait.IsCompleted);
            Assert.Throws<InvalidOperationException>(() => wait.GetAwaiter().GetResult());

            // Had the misuse returned the wait's object to this thread's pool, this read would get it, and the wait's
            // completion would end the read with POLLIN as its byte count.
            var buffer = new byte[8];
            var next = io.Context.ReadAsync(b, buffer, 0);
            Assert.Equal(1, Libc.WriteSpan((int)wa.DangerousGetHandle(), [9]));
            Assert.True((Completed(wait, "the wait") & PollEvents.In) != 0);
            Flush(io.Context);
            Assert.False(next.IsCompleted, "the read completed although nothing was written to its pipe");
            Assert.Equal(3, Libc.WriteSpan((int)wb.DangerousGetHandle(), [1, 2, 3]));
            Assert.Equal(3, Completed(next, "the read"));
            Assert.Equal(new byte[] { 1, 2, 3 }, buffer[..3]);
        });
    }

    [IoUringFact]
    public void A_second_GetResult_with_an_old_token_throws_and_leaves_the_current_use_alone()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("f", 4096);
        using var file = OpenFile(path);
        var (read, write) = BlockingPipe();
        using var readEnd = read;
        using var writeEnd = write;
        using var io = IoThread.Start("stale-getresult");
        OnOwnThread(() =>
        {
            var first = io.Context.ReadAsync(file, new byte[16], 0);
            Assert.Equal(16, Completed(first, "the read"));
            var second = io.Context.WaitAsync(readEnd, PollEvents.In);
            Assert.Throws<InvalidOperationException>(() => first.GetAwaiter().GetResult());
            Assert.False(second.IsCompleted);
            Assert.Equal(1, Libc.WriteSpan((int)writeEnd.DangerousGetHandle(), [1]));
            Assert.True((Completed(second, "the wait") & PollEvents.In) != 0);
        });
    }


    [IoUringFact]
    public void A_throwing_preparer_queued_before_the_loop_ran_fails_its_loop_awaiter_in_that_iteration()
    {
        // Queued before the first Poll (the ring is not bound yet), awaited on the loop: the failure reaches the
        // awaiter through a bottom half scheduled while the monitor fills the SQ, which must not be slept through
        // (the queued request keeps that iteration from blocking).
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
        var previous = SynchronizationContext.Current;
        Task awaiting;
        SynchronizationContext.SetSynchronizationContext(ctx.SynchronizationContext);
        try
        {
            awaiting = AwaitFailing();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        // Nothing else would wake the loop; a watchdog does, late, and says so.
        bool watchdogWoke = false;
        using var stop = new ManualResetEventSlim();
        var watchdog = new Thread(() =>
        {
            if (!stop.Wait(Wait.Default))
            {
                Volatile.Write(ref watchdogWoke, true);
                ctx.Notify();
            }
        });
        watchdog.Start();
        for (int i = 0; i < 3 && !awaiting.IsCompleted; i++)
        {
            ctx.Poll(true);
        }

        stop.Set();
        Assert.True(watchdog.Join(Wait.Default));
        Assert.False(Volatile.Read(ref watchdogWoke), "the loop slept through the failure until the watchdog woke it");
        Assert.True(awaiting.IsCompletedSuccessfully, $"the awaiter: {awaiting.Status} {awaiting.Exception}");

        async Task AwaitFailing()
        {
            var error = await Record.ExceptionAsync(async () => await ctx.SubmitAsync(static (ref Sqe sqe, int _) => throw new InvalidDataException("prep"), 0));
            Assert.IsType<InvalidDataException>(error);
        }
    }
    [IoUringFact]
    public async Task A_throwing_preparer_on_a_foreign_thread_fails_its_SubmitAsync_and_the_loop_goes_on()
    {
        using var io = IoThread.Start("foreign-prep-throws");
        int loopErrors = 0;
        io.CallbackException += (_, _) => Interlocked.Increment(ref loopErrors);
        var failing = Task.Run(() => io.Context.SubmitAsync(static (ref Sqe sqe, int _) => throw new InvalidDataException("prep"), 0).AsTask());
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => failing.WaitAsync(Wait.Default));
        Assert.Equal("prep", ex.Message);

        // The loop goes on, for foreign and loop submitters alike.
        Assert.Equal(0, await Task.Run(() => io.Context.SubmitAsync(s_nop, 0).AsTask()).WaitAsync(Wait.Default));
        Assert.Equal(0, await io.Context.InvokeAsync(async () => await AioContext.Current!.SubmitAsync(s_nop, 0)).WaitAsync(Wait.Default));

        // The exception belongs to its awaiter: the loop does not report it a second time.
        Assert.Equal(0, Volatile.Read(ref loopErrors));
    }

    [IoUringFact]
    public void A_throwing_preparer_of_a_raw_foreign_AddSqe_still_surfaces_from_Poll()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
        ctx.Poll(false);
        var handler = new RecordingHandler();
        Task.Run(() => ctx.AddSqe(static (ref Sqe sqe, int _) => throw new InvalidDataException("raw"), 0, handler)).Wait(Wait.Default);
        Assert.Throws<InvalidDataException>(() => ctx.Poll(false));

        // Nobody else would ever hear of it; the ring stays usable and the handler hears nothing.
        ctx.AddSqe(s_nop, 0, handler);
        LoopDriver.PollUntil(ctx, () => handler.Count == 1, "a NOP after the failure");
    }

    [IoUringFact]
    public void Disposing_a_context_off_its_home_thread_releases_the_files_of_reads_in_flight()
    {
        const int Reads = 8;
        var pipes = Enumerable.Range(0, Reads).Select(_ => BlockingPipe()).ToArray();
        var fds = pipes.Select(p => (int)p.Read.DangerousGetHandle()).ToArray();
        var identities = fds.Select(FdIdentity).ToArray();
        using var buffer = new AlignedBuffer(Reads * 64, 64);
        AioContext? ctx = null;
        var pending = new ValueTask<int>[Reads];
        OnOwnThread(() =>
        {
            ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
            ctx.Poll(false);
            for (int i = 0; i < Reads; i++)
            {
                pending[i] = ctx.ReadAsync(pipes[i].Read, buffer.Memory.Slice(i * 64, 64), 0);
            }

            ctx.Poll(false);
            Assert.True(ctx.RequestsInFlight >= Reads, "the reads are in the kernel");
        });

        // The home thread has gone: the kernel may still hold the reads, so their memory stays pinned.
        ctx!.Dispose();
        foreach (var p in pending)
        {
            Assert.Throws<ObjectDisposedException>(() => Completed(p, "the abandoned read"));
        }

        Assert.Equal(Reads, buffer.PinCount);

        // The kernel holds its own reference to each file: the caller's handles can close now.
        foreach (var (read, write) in pipes)
        {
            read.Dispose();
            write.Dispose();
            Assert.True(read.IsClosed, "an abandoned read still holds a reference to the caller's SafeHandle");
        }

        int stillOpen = fds.Where((fd, i) => FdIdentity(fd) == identities[i]).Count();
        Assert.Equal(0, stillOpen);
    }

    [IoUringFact]
    public void Pre_pinned_memory_stays_reachable_while_an_abandoned_read_may_still_write_it()
    {
        // A pinned-heap array's pin holds no handle: forgetting the pin (the abandon's "pinned for good") would leave
        // nothing referencing it, and the GC would hand its bytes to other objects while the kernel may still write.
        var (read, write) = BlockingPipe();
        using var readEnd = read;
        using var writeEnd = write;
        AioContext? ctx = null;
        WeakReference? array = null;
        ValueTask<int> pending = default;
        OnOwnThread(() =>
        {
            ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
            ctx.Poll(false);
            (pending, array) = ReadIntoPinnedArray(ctx, read);
            ctx.Poll(false);
            Assert.True(ctx.RequestsInFlight >= 1, "the read is in the kernel");
        });

        int keptBefore = Aio.Async.KernelHeldMemory.Count;
        ctx!.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Completed(pending, "the abandoned read"));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.True(array!.IsAlive, "the array of an abandoned read was collected: the kernel may still write into it");
        Assert.True(Aio.Async.KernelHeldMemory.Count > keptBefore, "nothing was kept");
    }

    /// <summary>Starts a read into a fresh pinned-heap array that nothing but the operation references.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static (ValueTask<int> Pending, WeakReference Array) ReadIntoPinnedArray(AioContext ctx, SafeFileHandle file)
    {
        // As Kestrel's pool hands out its blocks: memory marked pre-pinned, whose Pin() takes no GC handle.
        var buffer = GC.AllocateArray<byte>(4096, pinned: true);
        return (ctx.ReadAsync(file, System.Runtime.InteropServices.MemoryMarshal.CreateFromPinnedArray(buffer, 0, buffer.Length), 0), new WeakReference(buffer));
    }

    [IoUringFact]
    public async Task Reads_cancelled_at_random_moments_from_four_threads_each_end_exactly_once_with_their_own_bytes()
    {
        const int Threads = 4;
        const int PerThread = 25_000;
        const int Batch = 20;   // divides PerThread
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "patterns");
        var content = new byte[Threads * PerThread * 8];
        for (int i = 0; i < Threads * PerThread; i++)
        {
            BitConverter.TryWriteBytes(content.AsSpan(i * 8), Pattern(i));
        }

        File.WriteAllBytes(path, content);
        using var file = OpenFile(path);
        var (silent, silentWrite) = BlockingPipe();
        using var silentRead = silent;
        using var silentWriteEnd = silentWrite;
        var dataPipes = Enumerable.Range(0, Threads).Select(_ => BlockingPipe()).ToArray();
        using var io = IoThread.Start("cancel-stress");
        int loopErrors = 0;
        io.CallbackException += (_, _) => Interlocked.Increment(ref loopErrors);
        // User requests only: the loop's own fd polls are re-armed at the next fill, so their count depends on timing.
        int baseline = await io.Context.InvokeAsync(() => Task.FromResult(io.Context.UserRequestsInFlight)).Within("the baseline count of requests in flight");

        var workers = Enumerable.Range(0, Threads).Select(t => Task.Run(async () =>
        {
            var rng = new Random(1000 + t);
            var buffers = Enumerable.Range(0, Batch).Select(_ => new byte[8]).ToArray();
            var tasks = new ValueTask<int>[Batch];
            var waits = new ValueTask<PollEvents>[Batch];
            var isWait = new bool[Batch];
            var byData = new bool[Batch];
            var (dataRead, dataWrite) = dataPipes[t];
            int dataRd = (int)dataRead.DangerousGetHandle();
            int dataWr = (int)dataWrite.DangerousGetHandle();
            var sources = new CancellationTokenSource?[Batch];
            var late = new List<CancellationTokenSource>();
            var lateNext = new List<CancellationTokenSource>();
            var never = new CancellationTokenSource();
            var counts = new int[4];   // results, cancelled reads, cancelled waits, wrong
            for (int start = 0; start < PerThread; start += Batch)
            {
                for (int k = 0; k < Batch; k++)
                {
                    int index = (t * PerThread) + start + k;
                    int mode = rng.Next(12);
                    sources[k] = mode is >= 4 and <= 6 or 9 ? new CancellationTokenSource() : null;
                    var token = mode switch
                    {
                        0 or 1 or 10 => CancellationToken.None,
                        2 or 3 => never.Token,
                        7 or 8 or 11 => Late(),
                        _ => sources[k]!.Token,
                    };

                    // Tokens of the previous batch, whose operations have all ended, cancelled while this batch is in
                    // flight: they must reach none of its operations (the same pooled objects serve them).
                    if (late.Count > 0 && rng.Next(2) == 0)
                    {
                        late[^1].Cancel();
                        late[^1].Dispose();
                        late.RemoveAt(late.Count - 1);
                    }

                    isWait[k] = mode >= 9;
                    byData[k] = mode >= 10;
                    if (byData[k])
                    {
                        // A wait that ends when data arrives (written just before it is awaited): until then it is
                        // in flight, the very victim a stale cancel would hit (the WaitAsync(None)).
                        waits[k] = io.Context.WaitAsync(dataRead, PollEvents.In, token);
                    }
                    else if (isWait[k])
                    {
                        // A wait on a pipe that never becomes readable: it can only end by its own cancellation.
                        waits[k] = io.Context.WaitAsync(silentRead, PollEvents.In, token);
                    }
                    else
                    {
                        buffers[k].AsSpan().Fill(0xFF);
                        tasks[k] = io.Context.ReadAsync(file, buffers[k], index * 8L, token);
                    }

                    if (mode is 4 or 9 && rng.Next(2) == 0)
                    {
                        sources[k]!.Cancel();   // at once, usually before the loop has seen the request
                    }
                }

                bool dataWritten = false;
                for (int k = 0; k < Batch; k++)
                {
                    int index = (t * PerThread) + start + k;
                    var cts = sources[k];
                    if (byData[k] && !dataWritten)
                    {
                        Libc.WriteSpan(dataWr, [1]);
                        dataWritten = true;
                    }

                    if (cts is not null && !cts.IsCancellationRequested && (isWait[k] || rng.Next(3) != 0))
                    {
                        cts.Cancel();   // later, while some of the batch is in flight (a wait always: nothing else ends it)
                    }

                    try
                    {
                        if (!isWait[k])
                        {
                            int n = await tasks[k];
                            if (n != 8 || BitConverter.ToInt64(buffers[k]) != Pattern(index))
                            {
                                counts[3]++;
                            }
                            else
                            {
                                counts[0]++;
                            }
                        }
                        else if (byData[k])
                        {
                            counts[(await waits[k] & PollEvents.In) != 0 ? 0 : 3]++;
                        }
                        else
                        {
                            await waits[k];
                            counts[3]++;   // nothing is ever written to the silent pipe
                        }
                    }
                    catch (OperationCanceledException ex)
                    {
                        // Only its own token may cancel an operation.
                        bool own = cts is not null && ex.CancellationToken == cts.Token && cts.IsCancellationRequested;
                        counts[own ? (isWait[k] ? 2 : 1) : 3]++;
                    }

                    cts?.Dispose();
                }

                if (dataWritten)
                {
                    Libc.ReadSpan(dataRd, new byte[1]);
                }

                foreach (var source in late)
                {
                    source.Cancel();
                    source.Dispose();
                }

                late.Clear();
                (late, lateNext) = (lateNext, late);
            }

            return counts;

            CancellationToken Late()
            {
                var source = new CancellationTokenSource();
                lateNext.Add(source);
                return source.Token;
            }
        })).ToArray();

        var all = await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));
        int results = all.Sum(c => c[0]);
        int cancelledReads = all.Sum(c => c[1]);
        int cancelledWaits = all.Sum(c => c[2]);
        int wrong = all.Sum(c => c[3]);
        Assert.Equal(0, wrong);
        Assert.Equal(Threads * PerThread, results + cancelledReads + cancelledWaits);
        Assert.True(cancelledWaits > 0, "no wait was cancelled: the stress did not exercise cancellation");
        Assert.Equal(0, Volatile.Read(ref loopErrors));
        int after = await io.Context.InvokeAsync(() => Task.FromResult(io.Context.UserRequestsInFlight)).WaitAsync(Wait.Default);
        Assert.Equal(baseline, after);
        foreach (var (read, write) in dataPipes)
        {
            read.Dispose();
            write.Dispose();
        }

        static long Pattern(int i) => (i * -7046029254386353131L) ^ 0x5A5A;
    }

    [IoUringFact]
    public void Off_loop_reads_with_a_cancellable_token_allocate_nothing_per_operation()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("f", 4096);
        using var file = OpenFile(path);
        using var io = IoThread.Start("zero-alloc-off-loop");
        using var cts = new CancellationTokenSource();
        var buffer = GC.AllocateArray<byte>(64, pinned: true);
        var rounds = new List<(long Caller, long Loop)>();
        OnOwnThread(() =>
        {
            void Reads(int count)
            {
                for (int i = 0; i < count; i++)
                {
                    // Spinning, not blocking: a continuation or an event would be the test's own allocation.
                    var read = io.Context.ReadAsync(file, buffer, 0, cts.Token);
                    long spinStart = System.Diagnostics.Stopwatch.GetTimestamp();
                    while (!read.IsCompleted)
                    {
                        // Bounded: a lost completion fails the test instead of keeping a core busy for the rest of the run.
                        if (System.Diagnostics.Stopwatch.GetElapsedTime(spinStart) > Wait.Default)
                        {
                            throw new TimeoutException($"read {i} never completed");
                        }

                        Thread.Yield();
                    }

                    if (read.GetAwaiter().GetResult() != 64)
                    {
                        throw new InvalidDataException("short read");
                    }
                }
            }

            long LoopBytes() => io.Context.InvokeAsync(() => Task.FromResult(GC.GetAllocatedBytesForCurrentThread())).Result;

            Reads(5000);

            // As for foreign AddSqe: lock-free queues may grow a segment in one round; rounds are measured until one
            // is clean (bounded). The loop side includes the fixed cost of the two InvokeAsync that read its counter.
            for (int r = 0; r < 5 && (rounds.Count == 0 || rounds[^1].Caller != 0 || rounds[^1].Loop > 4096); r++)
            {
                long loopBefore = LoopBytes();
                long before = GC.GetAllocatedBytesForCurrentThread();
                Reads(10_000);
                long caller = GC.GetAllocatedBytesForCurrentThread() - before;
                rounds.Add((caller, LoopBytes() - loopBefore));
            }
        });
        string all = string.Join(", ", rounds);
        Assert.True(rounds[^1].Caller == 0, $"bytes allocated by the caller per round of 10,000 reads (caller, loop): {all}");
        Assert.True(rounds[^1].Loop <= 4096, $"bytes allocated by the loop per round of 10,000 reads (caller, loop): {all}");
    }

    /// <summary>What /proc/self/fd says an fd is ("pipe:[inode]"), or null when it is not open.</summary>
    private static string? FdIdentity(int fd)
    {
        try
        {
            return new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
