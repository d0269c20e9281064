using Aio.Interop;

namespace Aio.TestHelper;

/// <summary>
/// The fallback tests' scenarios: each installs a real seccomp filter that refuses io_uring_setup with EPERM (what
/// Docker's default profile does) and checks what AioContext.Create does next.
/// </summary>
internal static class SeccompScenarios
{
    public static void Fallback()
    {
        Seccomp.DenyIoUringSetup();
        using var ctx = AioContext.Create();
        if (ctx.HasIoUring || ctx.Monitor == FdMonitorKind.IoUring)
        {
            Report.Fail($"expected a poll/epoll context, got {ctx.Monitor}");
            return;
        }

        try
        {
            ctx.AddSqe(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0, new NullHandler());
            Report.Fail("AddSqe did not throw");
            return;
        }
        catch (NotSupportedException)
        {
        }

        if (!NotifierHandlerRuns(ctx, out int runs))
        {
            Report.Fail($"the fd handler did not run (runs={runs})");
            return;
        }

        Report.Ok($"fell back to {ctx.Monitor}; AddSqe not supported; fd handlers work");
    }

    public static void AllOrNone()
    {
        using var first = AioContext.Create();
        if (!first.HasIoUring)
        {
            Report.Fail("the first context has no io_uring: the kernel refuses it even before the filter");
            return;
        }

        Seccomp.DenyIoUringSetup();
        try
        {
            using var second = AioContext.Create();
            Report.Fail($"the second Create succeeded with {second.Monitor}");
        }
        catch (AioException ex) when (ex.Errno == Errno.EPERM && ex.Message.Contains("all io_uring or none", StringComparison.Ordinal))
        {
            Report.Ok(ex.Message);
        }
    }

    public static void Explicit()
    {
        Seccomp.DenyIoUringSetup();
        try
        {
            using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
            Report.Fail("Create(Monitor = IoUring) succeeded under the filter");
        }
        catch (AioException ex) when (ex.Errno == Errno.EPERM)
        {
            Report.Ok(ex.Message);
        }
    }

    /// <summary>Sets an EventNotifier registered on <paramref name="ctx"/> and checks one non-blocking Poll runs its handler once.</summary>
    public static bool NotifierHandlerRuns(AioContext ctx, out int runs)
    {
        using var e = new EventNotifier();
        int count = 0;
        ctx.SetEventNotifier(e, n =>
        {
            n.TestAndClear();
            count++;
        });
        e.Set();
        bool progress = ctx.Poll(false);
        ctx.SetEventNotifier(e, null);
        runs = count;
        return progress && count == 1;
    }
}
