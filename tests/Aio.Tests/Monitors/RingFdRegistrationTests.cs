using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Monitors;

/// <summary>
/// The home thread registers the ring fd (IORING_REGISTER_RING_FDS, 5.18): every io_uring_enter then skips the fd-table
/// lookup, an atomic reference count pair per call in a multi-threaded process.
/// </summary>
public class RingFdRegistrationTests
{
    [IoUringFact]
    public void The_home_thread_registers_the_ring_fd_and_the_loop_works_through_it()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
        var ring = ctx.RingForNet!;
        Assert.False(ring.IsRingFdRegistered);
        Assert.False(ctx.Poll(false));

        // 5.18 and later register it; this suite runs on newer kernels (CI: 6.x), where a refusal is a regression.
        Assert.True(ring.IsRingFdRegistered, "the ring fd was not registered when the home thread bound the ring");

        // Requests go through enters that name the ring by its registered index.
        int completions = 0;
        var done = new CountingHandler(() => completions++);
        for (int i = 0; i < 100; i++)
        {
            ctx.AddSqe(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0, done);
        }

        Wait.Until(() => completions == 100, () => ctx.Poll(true), "100 NOPs completing through the registered ring fd");

        Assert.Equal(100, completions);
    }

    [IoUringFact]
    public void Disposing_on_the_home_thread_unregisters_the_ring_fd()
    {
        var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
        var ring = ctx.RingForNet!;
        ctx.Poll(false);
        Assert.True(ring.IsRingFdRegistered);
        ctx.Dispose();
        Assert.False(ring.IsRingFdRegistered, "the registered ring fd outlived the ring (the task would keep the ring alive)");
    }

    private sealed class CountingHandler(Action onCompletion) : CqeHandler
    {
        protected internal override void OnCompletion(in Cqe cqe)
        {
            Assert.Equal(0, cqe.Result);
            onCompletion();
        }
    }
}
