using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Monitors;

/// <summary>Issue 10, item 14: an SqePreparer runs while its entry is already counted in the SQ.</summary>
public class PreparerReentryTests
{
    [IoUringFact]
    public void Nested_Poll_inside_a_home_thread_SqePreparer_is_refused_and_the_request_completes_once()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, Name = "nested-prepare" });
        ctx.Poll(false);
        var handler = new RecordingHandler();
        Exception? nested = null;
        ctx.AddSqe(
            (ref Sqe sqe, AioContext c) =>
            {
                try
                {
                    c.Poll(false);
                }
                catch (Exception ex)
                {
                    nested = ex;
                }

                sqe.PrepNop();
            },
            ctx,
            handler);
        Assert.IsType<InvalidOperationException>(nested);
        LoopDriver.PollUntil(ctx, () => handler.Count == 1, "the NOP whose preparer tried a nested Poll");
        for (int i = 0; i < 5; i++)
        {
            ctx.Poll(false);
        }

        Assert.True(handler.Completions.TryDequeue(out var cqe));
        Assert.Equal(0, cqe.Result);
        Assert.Equal(0, handler.Count);
    }

    [IoUringFact]
    public void Nested_Poll_inside_a_foreign_requests_SqePreparer_is_refused_and_the_request_completes_once()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, Name = "nested-prepare-foreign" });
        ctx.Poll(false);
        var handler = new RecordingHandler();
        Exception? nested = null;
        var submitter = Task.Run(() => ctx.AddSqe(
            (ref Sqe sqe, AioContext c) =>
            {
                try
                {
                    c.Poll(false);
                }
                catch (Exception ex)
                {
                    nested = ex;
                }

                sqe.PrepNop();
            },
            ctx,
            handler));
        Wait.For(submitter, "the foreign AddSqe");
        LoopDriver.PollUntil(ctx, () => handler.Count == 1, "the foreign NOP whose preparer tried a nested Poll");
        Assert.IsType<InvalidOperationException>(nested);
        for (int i = 0; i < 5; i++)
        {
            ctx.Poll(false);
        }

        Assert.Equal(1, handler.Count);
    }
}
