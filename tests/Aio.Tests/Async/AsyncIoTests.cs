using Aio.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit;

namespace Aio.Tests.Async;

public class AsyncIoTests
{
    private static SafeFileHandle OpenFile(string path, FileAccess access = FileAccess.ReadWrite)
        => File.OpenHandle(path, FileMode.Open, access);

    /// <summary>
    /// Runs <paramref name="operation"/> on an IoThread's loop, awaited there: a warm-up, then up to three rounds of
    /// <paramref name="count"/> measured calls, until one allocates nothing; returns the bytes the loop thread
    /// allocated in the last round.
    /// </summary>
    /// <remarks>
    /// Rounds, because the runtime may allocate once on the thread for reasons of its own: with collections forced on
    /// another thread (as parallel tests do), 32 bytes appeared once in a round of 100,000 reads, located by probes on
    /// the thread's allocation counter in this test's own async method, between a read's result and its next call, not
    /// in Aio's code. An allocation per operation (24 bytes or more each) fails every round.
    /// </remarks>
    private static long AllocatedOnTheLoop<T>(string name, int count, Func<AioContext, int, ValueTask<T>> operation, Func<T, bool>? isRight = null)
    {
        using var io = IoThread.Start(name);
        var measured = io.Context.InvokeAsync(async () =>
        {
            var ctx = AioContext.Current!;
            for (int i = 0; i < 2000; i++)
            {
                await operation(ctx, i);
            }

            long allocated = 0;
            for (int round = 0; round < 3; round++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < count; i++)
                {
                    T result = await operation(ctx, i);
                    if (isRight is not null && !isRight(result))
                    {
                        throw new InvalidDataException($"operation {i} returned {result}");
                    }
                }

                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                if (allocated == 0)
                {
                    break;
                }
            }

            return allocated;
        });
        Wait.For(measured, $"up to three rounds of {count} operations", TimeSpan.FromSeconds(180));
        return measured.Result;
    }

    [IoUringFact]
    public void Read_awaited_on_the_loop_allocates_nothing_in_steady_state()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("f", 1 << 20);
        using var file = OpenFile(path, FileAccess.Read);
        var buffer = GC.AllocateArray<byte>(4096, pinned: true);
        Assert.Equal(0, AllocatedOnTheLoop("zero-alloc-read", 100_000, (ctx, i) => ctx.ReadAsync(file, buffer, (i % 256) * 4096L), n => n == 4096));
    }

    [IoUringFact]
    public void BlockFile_read_with_registered_file_and_buffer_allocates_nothing_in_steady_state()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("f", 1 << 20);
        using var buffer = new AlignedBuffer(4096, 4096);
        BlockFile? file = null;
        try
        {
            Assert.Equal(0, AllocatedOnTheLoop("zero-alloc-blockfile", 100_000, (ctx, i) =>
            {
                // Opened on the loop during the warm-up, so the file's slot and the buffer's are registered by then.
                file ??= BlockFile.Open(ctx, path, new BlockFileOptions { Engine = BlockEngine.IoUring, Direct = true, ReadOnly = true });
                return file.ReadAsync(buffer.Memory, (i % 256) * 4096L);
            }, n => n == 4096));
            Assert.True(buffer.RegisteredSlot >= 0, "the measured reads did not go through a registered buffer");
        }
        finally
        {
            file?.Dispose();
        }
    }

    [IoUringFact]
    public void Submit_nop_awaited_on_the_loop_allocates_nothing_in_steady_state()
    {
        SqePreparer<int> nop = static (ref Sqe sqe, int _) => sqe.PrepNop();
        Assert.Equal(0, AllocatedOnTheLoop("zero-alloc-nop", 100_000, (ctx, i) => ctx.SubmitAsync(nop, i)));
    }

    [IoUringFact]
    public void Wait_awaited_on_the_loop_allocates_nothing_in_steady_state()
    {
        var (r, w) = Aio.Interop.Libc.CreatePipe();
        using var read = new SafeFileHandle(r, ownsHandle: true);
        using var write = new SafeFileHandle(w, ownsHandle: true);
        Aio.Interop.Libc.WriteSpan(w, [1]);   // stays readable: every wait completes
        Assert.Equal(0, AllocatedOnTheLoop("zero-alloc-wait", 20_000, (ctx, _) => ctx.WaitAsync(read, PollEvents.In), e => (e & PollEvents.In) != 0));
    }

    [IoUringFact]
    public void Awaited_on_the_loop_resumes_inline_on_the_home_thread()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("f", 8192);
        using var file = OpenFile(path, FileAccess.Read);
        using var io = IoThread.Start("inline");
        var buffer = new byte[4096];
        var result = io.Context.InvokeAsync(async () =>
        {
            int home = Environment.CurrentManagedThreadId;
            long bhBefore = AioContext.Current!.Statistics.BottomHalvesRun;
            int n = await AioContext.Current.ReadAsync(file, buffer, 4096);
            return (n, home, after: Environment.CurrentManagedThreadId, posts: AioContext.Current!.Statistics.BottomHalvesRun - bhBefore);
        });
        Wait.For(result, "the read");
        Assert.Equal(4096, result.Result.n);
        Assert.Equal(result.Result.home, result.Result.after);

        // Resumed by the completion itself, not by a posted bottom half.
        Assert.Equal(0, result.Result.posts);
        Assert.Equal(content.AsSpan(4096).ToArray(), buffer);
    }

    [IoUringFact]
    public async Task Awaited_from_the_thread_pool_resumes_off_the_loop()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("f", 4096);
        using var file = OpenFile(path, FileAccess.Read);
        using var io = IoThread.Start("offloop");
        int loopThread = await io.Context.InvokeAsync(() => Task.FromResult(Environment.CurrentManagedThreadId)).Within("the loop thread's id");
        var buffer = new byte[4096];
        await Task.Run(async () =>
        {
            int n = await io.Context.ReadAsync(file, buffer, 0);
            Assert.Equal(4096, n);
            Assert.NotEqual(loopThread, Environment.CurrentManagedThreadId);
            Assert.Null(AioContext.Current);
        }).WaitAsync(Wait.Default);
        Assert.Equal(content, buffer);
    }

    [IoUringFact]
    public async Task Cancelled_wait_on_a_silent_pipe_throws_and_leaks_no_request()
    {
        using var io = IoThread.Start("cancel");
        var (r, w) = Aio.Interop.Libc.CreatePipe();
        using var read = new SafeFileHandle(r, ownsHandle: true);
        using var write = new SafeFileHandle(w, ownsHandle: true);
        // User requests only: the loop's own eventfd poll is counted by RequestsInFlight while armed, and whether it is
        // armed when a posted callback runs depends on whether the loop was asleep when it was posted (the poll then
        // fired and is re-armed only after the iteration).
        int baseline = await io.Context.InvokeAsync(() => Task.FromResult(io.Context.UserRequestsInFlight)).Within("the baseline count of requests in flight");
        Assert.Equal(0, baseline);
        using var cts = new CancellationTokenSource();
        var wait = io.Context.WaitAsync(read, PollEvents.In, cts.Token).AsTask();

        // Cancelled once the poll is in the kernel, so the cancel has a request to take back.
        var armed = System.Diagnostics.Stopwatch.StartNew();
        while (await io.Context.InvokeAsync(() => Task.FromResult(io.Context.UserRequestsInFlight)).WaitAsync(Wait.Default) != 1)
        {
            Assert.True(armed.Elapsed < Wait.Default, "the poll request never reached the loop");
        }

        Assert.False(wait.IsCompleted);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(Wait.Default));

        // The loop keeps working and the request is gone.
        int after = await io.Context.InvokeAsync(() => Task.FromResult(io.Context.UserRequestsInFlight)).WaitAsync(Wait.Default);
        Assert.Equal(baseline, after);
        var ready = io.Context.WaitAsync(read, PollEvents.In).AsTask();
        Assert.Equal(1, Aio.Interop.Libc.WriteSpan(w, [7]));
        Assert.True((await ready.WaitAsync(Wait.Default) & PollEvents.In) != 0);
    }

    private static readonly SqePreparer<int> s_pollIn = static (ref Sqe sqe, int fd) => sqe.PrepPollAdd(fd, PollEvents.In);

    [IoUringFact]
    public async Task A_late_cancel_never_reaches_the_next_use_of_a_pooled_operation()
    {
        using var io = IoThread.Start("late-cancel");
        var (r, w) = Aio.Interop.Libc.CreatePipe();
        using var read = new SafeFileHandle(r, ownsHandle: true);
        using var write = new SafeFileHandle(w, ownsHandle: true);
        int stale = await io.Context.InvokeAsync(async () =>
        {
            var ctx = AioContext.Current!;
            var drain = new byte[16];
            int wrongly = 0;
            for (int i = 0; i < 300; i++)
            {
                using var cts = new CancellationTokenSource();
                var first = ctx.SubmitAsync(s_pollIn, r, cts.Token);

                // Data and cancel arrive together while the loop sleeps: the cancel is requested while the wait is in
                // flight, and the wait then completes normally before the loop gets to the cancel.
                var racer = Task.Run(() =>
                {
                    Aio.Interop.Libc.WriteSpan(w, [1]);
                    cts.Cancel();
                });
                try
                {
                    await first;
                }
                catch (OperationCanceledException)
                {
                }

                Aio.Interop.Libc.ReadSpan(r, drain);
                await racer;

                // The same pooled operation object serves this wait; a cancel meant for the first must not hit it.
                var second = ctx.SubmitAsync(s_pollIn, r);
                var feeder = Task.Run(async () =>
                {
                    await Task.Delay(1);
                    Aio.Interop.Libc.WriteSpan(w, [2]);
                });
                try
                {
                    await second;
                }
                catch (OperationCanceledException)
                {
                    wrongly++;
                }

                await feeder;

                Aio.Interop.Libc.ReadSpan(r, drain);
            }

            return wrongly;
        }).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, stale);
    }

    [IoUringFact]
    public async Task Negative_result_becomes_AioException_naming_the_operation()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("f", 4096);
        using var io = IoThread.Start("errors");
        using var readOnly = OpenFile(path, FileAccess.Read);
        var ex = await Assert.ThrowsAsync<AioException>(async () => await io.Context.WriteAsync(readOnly, new byte[16], 0).Within("the write to a read-only file"));
        Assert.Equal(Aio.Interop.Errno.EBADF, ex.Errno);
        Assert.StartsWith("write: EBADF", ex.Message);
        int raw = await io.Context.SubmitAsync(static (ref Sqe sqe, int _) => sqe.PrepRead(-5, 0, 1, 0), 0).Within("the read of a bad fd");
        Assert.Equal(-Aio.Interop.Errno.EBADF, raw);
    }

    [IoUringFact]
    public Task Read_write_and_flush_work_with_io_uring() => ReadWriteAndFlush(ioUring: true);

    [Fact]
    public Task Read_write_and_flush_work_without_io_uring() => ReadWriteAndFlush(ioUring: false);

    private static async Task ReadWriteAndFlush(bool ioUring)
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("f", 65536);
        using var file = OpenFile(path);
        using var io = IoThread.Start("rw-" + ioUring, new AioContextOptions { Monitor = ioUring ? FdMonitorKind.IoUring : FdMonitorKind.Epoll });
        Assert.Equal(ioUring, io.Context.HasIoUring);
        var buffer = new byte[8192];
        Assert.Equal(8192, await io.Context.ReadAsync(file, buffer, 1000).Within("the first read"));
        Assert.Equal(content.AsSpan(1000, 8192).ToArray(), buffer);
        var payload = Enumerable.Range(0, 3000).Select(i => (byte)(i * 7)).ToArray();
        Assert.Equal(3000, await io.Context.WriteAsync(file, payload, 50_000).Within("the write"));
        await io.Context.FlushAsync(file).Within("the flush");
        await io.Context.FlushAsync(file, dataOnly: true).Within("the data-only flush");
        var check = new byte[3000];
        Assert.Equal(3000, await io.Context.ReadAsync(file, check, 50_000).Within("the read of what was written"));
        Assert.Equal(payload, check);
        Assert.Equal(0, await io.Context.ReadAsync(file, buffer, 1 << 20).Within("the read past the end"));
    }

    [IoUringFact]
    public async Task Dispose_with_an_operation_in_flight_completes_it_with_ObjectDisposedException()
    {
        var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
        var (r, w) = Aio.Interop.Libc.CreatePipe();
        using var read = new SafeFileHandle(r, ownsHandle: true);
        using var write = new SafeFileHandle(w, ownsHandle: true);
        ctx.Poll(false);
        var pending = ctx.ReadAsync(read, new byte[16], 0).AsTask();
        ctx.Poll(false);
        ctx.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pending.WaitAsync(Wait.Default));
    }

    [IoUringFact]
    public void An_abandoned_operation_awaited_on_its_loop_resumes_on_the_pool_not_inside_Dispose()
    {
        var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
        var (r, w) = Aio.Interop.Libc.CreatePipe();
        using var read = new SafeFileHandle(r, ownsHandle: true);
        using var write = new SafeFileHandle(w, ownsHandle: true);
        int resumedOn = 0;
        Task awaiting;
        var previous = SynchronizationContext.Current;
        ctx.Poll(false);
        SynchronizationContext.SetSynchronizationContext(ctx.SynchronizationContext);
        try
        {
            // Awaited on the loop (its home thread, its SynchronizationContext): continuations there run inline.
            awaiting = AwaitRead();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        ctx.Poll(false);
        Assert.False(awaiting.IsCompleted);

        // The loop stopped; another thread (not a pool thread, which could run the continuation next) disposes.
        int disposer = 0;
        var dispose = new Thread(() =>
        {
            disposer = Environment.CurrentManagedThreadId;
            ctx.Dispose();
        });
        dispose.Start();
        Assert.True(dispose.Join(Wait.Default), "Dispose hung");
        Assert.True(awaiting.Wait(Wait.Default), "the awaiter never resumed");
        // Not inline on the disposing thread (the pool may run it while that thread is still tearing down).
        Assert.NotEqual(disposer, resumedOn);

        async Task AwaitRead()
        {
            // No helper in between: the code after this await is the operation's own continuation.
            Exception? error = null;
            try
            {
                await ctx.ReadAsync(read, new byte[16], 0);
            }
            catch (Exception ex)
            {
                error = ex;
            }

            resumedOn = Environment.CurrentManagedThreadId;
            Assert.IsType<ObjectDisposedException>(error);
        }
    }

    [Fact]
    public void Synchronization_context_send_runs_on_the_loop_and_rethrows_and_post_runs_later()
    {
        using var io = IoThread.Start("sync");
        var sync = io.Context.SynchronizationContext;
        int loopThread = io.Context.InvokeAsync(() => Task.FromResult(Environment.CurrentManagedThreadId)).Result;
        int ranOn = 0;
        sync.Send(_ => ranOn = Environment.CurrentManagedThreadId, null);
        Assert.Equal(loopThread, ranOn);
        Assert.Throws<FormatException>(() => sync.Send(_ => throw new FormatException("from the loop"), null));
        using var posted = new ManualResetEventSlim();
        sync.Post(_ => posted.Set(), null);
        Assert.True(posted.Wait(Wait.Default), "a posted callback never ran");

        // From the loop itself, Send runs inline.
        bool inline = io.Context.InvokeAsync(() =>
        {
            bool ran = false;
            SynchronizationContext.Current!.Send(_ => ran = true, null);
            return Task.FromResult(ran);
        }).Result;
        Assert.True(inline);
    }

    [Fact]
    public async Task InvokeAsync_runs_on_the_loop_with_its_synchronization_context()
    {
        using var io = IoThread.Start("invoke");
        var seen = await io.Context.InvokeAsync(async () =>
        {
            var first = (AioContext.Current, SynchronizationContext.Current);
            await Task.Yield();
            var second = (AioContext.Current, SynchronizationContext.Current);
            return (first, second);
        }).WaitAsync(Wait.Default);
        Assert.Same(io.Context, seen.first.Item1);
        Assert.Same(io.Context.SynchronizationContext, seen.first.Item2);
        Assert.Same(io.Context, seen.second.Item1);
        Assert.Same(io.Context.SynchronizationContext, seen.second.Item2);
    }
}
