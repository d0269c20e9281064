using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Uring;

/// <summary>Issue 10, items 3 and 10 (ring side): a context disposed under a running Poll never touches the unmapped ring.</summary>
public class DisposedRingTests
{
    [IoUringFact]
    public void Dispose_from_a_busy_poll_callback_ends_the_iteration_without_touching_the_ring()
    {
        // Before the fix: AccessViolation in Ring.CqReady (NeedWait, right after the poll callback), exit 134.
        using var e = new EventNotifier();
        int polls = 0;
        Exception? unexpected = null;
        var loop = new Thread(() =>
        {
            try
            {
                var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, PollMaxNs = 1_000_000_000, Name = "dispose-in-poll" });
                ctx.SetEventNotifier(
                    e,
                    en => en.TestAndClear(),
                    _ =>
                    {
                        if (++polls == 1)
                        {
                            ctx.Dispose();
                        }

                        return false;
                    });

                // The first dispatch puts the handler in the polling set with a window; the next blocking Poll busy-polls it.
                // The ceiling is far above any first iteration (which pays for JIT compilation): a block time over the
                // ceiling would leave the window at 0, and the second blocking Poll would sleep for good.
                e.Set();
                ctx.Poll(true);
                try
                {
                    ctx.Poll(true);
                }
                catch (ObjectDisposedException)
                {
                    // Allowed: the context was disposed under this iteration.
                }

                Assert.Throws<ObjectDisposedException>(() => ctx.Poll(false));
            }
            catch (Exception ex)
            {
                unexpected = ex;
            }
        })
        { IsBackground = true };
        loop.Start();
        Wait.Join(loop, "the iteration whose poll callback disposed the context", TimeSpan.FromSeconds(10));
        Assert.Null(unexpected);
        Assert.Equal(1, polls);
    }

    [IoUringFact]
    public void A_disposed_context_reads_its_ring_as_empty()
    {
        var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, Name = "disposed-ring" });
        ctx.Poll(false);
        var handler = new RecordingHandler();
        ctx.AddSqe(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0, handler);
        ctx.Dispose();
        Assert.Equal(0, ctx.RequestsInFlight);
        Assert.Throws<ObjectDisposedException>(() => ctx.Poll(false));
        Assert.Throws<ObjectDisposedException>(() => ctx.AddSqe(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0, handler));
    }
}
