using Aio.Interop;
using Aio.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>
/// Loop step 1 counts completions the kernel already holds (posted, or queued as task work for the home thread): an
/// iteration that starts with some does not sleep and does not busy-poll, and reaps them in one io_uring_enter.
/// </summary>
public class KernelCompletionsTests
{
    [IoUringFact]
    public void A_blocking_iteration_with_a_completion_already_in_the_kernel_reaps_it_in_one_enter_without_sleeping()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, PollMaxNs = 10_000_000 });
        var (r, w) = Libc.CreatePipe();
        using var read = new SafeFileHandle(r, ownsHandle: true);
        using var write = new SafeFileHandle(w, ownsHandle: true);
        ctx.Poll(false);
        var pending = ctx.ReadAsync(read, new byte[16], 0).AsTask();

        // Submitted: the read waits in the kernel for data.
        ctx.Poll(false);
        Assert.False(pending.IsCompleted, "the read completed before the pipe had data");

        // The write completes it inside the kernel (the pipe's wake-up queues its task work for this thread); no wait
        // has reaped it yet.
        Assert.Equal(1, Libc.WriteSpan(w, [42]));
        var before = ctx.Statistics;
        Assert.True(ctx.Poll(true), "the blocking iteration ran no completion");
        var after = ctx.Statistics;

        // Delivered in that iteration; the task's own completion may come through the pool.
        Assert.Equal(1, pending.WaitAsync(Wait.Default).GetAwaiter().GetResult());
        Assert.Equal(before.BlockingWaits, after.BlockingWaits);
        Assert.Equal(before.RingEnters + 1, after.RingEnters);
        Assert.Equal(before.PollSuccesses + before.PollFailures, after.PollSuccesses + after.PollFailures);
    }
}
