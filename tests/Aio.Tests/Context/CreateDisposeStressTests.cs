using System.Runtime.CompilerServices;
using Aio.Interop;
using Aio.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>
/// Contexts created and disposed with work of every kind in flight leave nothing behind. Alone (it counts the
/// process's fds: a parallel test holding 64 sockets at the second count failed it once in a full run).
/// </summary>
[Collection(FdCountingCollection.Name)]
public class CreateDisposeStressTests
{
    private static readonly SqePreparer<int> s_pollIn = static (ref Sqe sqe, int fd) => sqe.PrepPollAdd(fd, PollEvents.In);

    [Fact]
    public void Thousand_create_dispose_cycles_with_requests_in_flight_leave_fds_and_memory_flat()
    {
        const int Cycles = 1000;
        var kinds = MonitorKinds.Kinds.ToArray();

        // First uses (JIT, pools, static tables, the thread pool's threads) are not leaks.
        RunCycles(kinds, 30, new List<WeakReference>());
        Settle();
        int fdsBefore = OpenFds();
        var contexts = new List<WeakReference>(Cycles);
        var outcomes = RunCycles(kinds, Cycles, contexts);
        Settle();
        int fdsAfter = OpenFds();

        Assert.Equal(Cycles, outcomes.Disposed);
        Assert.Equal(outcomes.Queued, outcomes.QueuedEndedDisposed);
        Assert.Equal(outcomes.Waits, outcomes.WaitsEndedDisposed);

        // Parallel tests open and close fds meanwhile: a leak of even one fd per cycle would be a thousand.
        Assert.True(fdsAfter - fdsBefore < 64, $"{fdsAfter - fdsBefore} more open fds after {Cycles} cycles");
        int alive = contexts.Count(w => w.IsAlive);
        Assert.True(alive == 0, $"{alive} of {Cycles} disposed contexts are still reachable");
    }

    private static (int Disposed, int Queued, int QueuedEndedDisposed, int Waits, int WaitsEndedDisposed) RunCycles(FdMonitorKind[] kinds, int cycles, List<WeakReference> contexts)
    {
        (int Disposed, int Queued, int QueuedEndedDisposed, int Waits, int WaitsEndedDisposed) o = default;
        for (int i = 0; i < cycles; i++)
        {
            var (queued, wait) = OneCycle(kinds[i % kinds.Length], foreignDispose: i % 4 == 3, contexts);
            o.Disposed++;
            o.Queued++;
            Wait.For(queued.ContinueWith(_ => { }, TaskScheduler.Default), "the InvokeAsync queued at Dispose");
            if (queued.Exception?.InnerException is ObjectDisposedException)
            {
                o.QueuedEndedDisposed++;
            }

            if (wait is not null)
            {
                o.Waits++;
                Wait.For(wait.ContinueWith(_ => { }, TaskScheduler.Default), "the WaitAsync in flight at Dispose");
                if (wait.Exception?.InnerException is ObjectDisposedException)
                {
                    o.WaitsEndedDisposed++;
                }
            }
        }

        return o;
    }

    // Not inlined: the context must not stay alive in a local of the caller's frame.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (Task Queued, Task? Wait) OneCycle(FdMonitorKind kind, bool foreignDispose, List<WeakReference> contexts)
    {
        var ctx = MonitorKinds.Create(kind);
        contexts.Add(new WeakReference(ctx));
        var (r, w) = Libc.CreatePipe();
        using var read = new SafeFileHandle(r, ownsHandle: false);
        Task? wait = null;
        try
        {
            // A handler, a bottom half, a far timer, queued work, and (io_uring) a raw poll and an awaited one in
            // the kernel: none of them ever completes by itself.
            ctx.SetFdHandler(r, () => { }, null);
            var bh = ctx.CreateBottomHalf(() => { });
            bh.Schedule();
            ctx.CreateTimer(AioClock.Monotonic, () => { }).ArmAfter(TimeSpan.FromHours(1));
            ctx.Poll(false);
            if (ctx.HasIoUring)
            {
                ctx.AddSqe(s_pollIn, r, new RecordingHandler());
                wait = ctx.WaitAsync(read, PollEvents.In).AsTask();
                ctx.Poll(false);
            }

            var queued = ctx.InvokeAsync(() => Task.CompletedTask);
            if (foreignDispose)
            {
                // No loop runs: any thread may dispose; the ring's owner is not the one cancelling.
                // A thread of its own: a Task waited for here could be inlined onto this (the home) thread.
                var foreign = new Thread(ctx.Dispose);
                foreign.Start();
                Wait.Join(foreign, "a foreign Dispose");
            }
            else
            {
                ctx.Dispose();
            }

            return (queued, wait);
        }
        finally
        {
            Libc.CloseQuietly(r);
            Libc.CloseQuietly(w);
        }
    }

    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static int OpenFds() => Directory.GetFiles("/proc/self/fd").Length;
}
