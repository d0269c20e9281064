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
    public async Task An_IoThread_registers_its_ring_fd_and_the_loop_works_through_it()
    {
        using var io = IoThread.Start("ring-fd");
        var ring = io.Context.RingForNet!;

        // 5.18 and later register it; this suite runs on newer kernels (CI: 6.x), where a refusal is a regression.
        Assert.True(await io.Context.InvokeAsync(() => Task.FromResult(ring.IsRingFdRegistered)).WaitAsync(Wait.Default),
            "the ring fd was not registered when the IoThread bound the ring");

        // Requests go through enters that name the ring by its registered index.
        SqePreparer<int> nop = static (ref Sqe sqe, int _) => sqe.PrepNop();
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(0, await io.Context.InvokeAsync(() => io.Context.SubmitAsync(nop, 0).AsTask()).WaitAsync(Wait.Default));
        }
    }

    [IoUringFact]
    public void An_IoThread_unregisters_its_ring_fd_when_it_ends()
    {
        var io = IoThread.Start("ring-fd-dispose");
        var ring = io.Context.RingForNet!;
        Assert.True(io.Context.InvokeAsync(() => Task.FromResult(ring.IsRingFdRegistered)).Wait(Wait.Default));
        io.Dispose();
        Assert.False(ring.IsRingFdRegistered, "the registered ring fd outlived the ring (the thread would keep the ring alive)");
    }

    [IoUringFact]
    public void A_context_driven_by_another_thread_does_not_register_its_ring_fd()
    {
        // A test runner's thread binds many contexts: 16 registrations per task would run out, and one left behind by a
        // context disposed elsewhere would keep its ring alive until the thread exits.
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
        Assert.False(ctx.Poll(false));
        Assert.False(ctx.RingForNet!.IsRingFdRegistered);
    }
}
