using Aio;
using Aio.Interop;

namespace Aio.TestHelper;

/// <summary>
/// Child-process scenarios for the fallback tests: each installs a real seccomp filter that refuses io_uring_setup
/// with EPERM (what Docker's default profile does) and checks what AioContext.Create does next. Prints "OK: ..." and
/// exits 0 on success; prints "FAIL: ..." and exits 1 otherwise.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        try
        {
            return args.FirstOrDefault() switch
            {
                "fallback" => Fallback(),
                "all-or-none" => AllOrNone(),
                "explicit" => Explicit(),
                { } ring when ring.StartsWith("ring-", StringComparison.Ordinal) => RingScenarios.Run(ring),
                _ => Fail($"unknown scenario '{string.Join(' ', args)}'"),
            };
        }
        catch (Exception ex)
        {
            return Fail(ex.ToString());
        }
    }

    private static int Fallback()
    {
        Seccomp.DenyIoUringSetup();
        using var ctx = AioContext.Create();
        if (ctx.HasIoUring || ctx.Monitor == FdMonitorKind.IoUring)
        {
            return Fail($"expected a poll/epoll context, got {ctx.Monitor}");
        }

        try
        {
            ctx.AddSqe(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0, new NullHandler());
            return Fail("AddSqe did not throw");
        }
        catch (NotSupportedException)
        {
        }

        using var e = new EventNotifier();
        int runs = 0;
        ctx.SetEventNotifier(e, n =>
        {
            n.TestAndClear();
            runs++;
        });
        e.Set();
        if (!ctx.Poll(false) || runs != 1)
        {
            return Fail($"the fd handler did not run (runs={runs})");
        }

        return Ok($"fell back to {ctx.Monitor}; AddSqe not supported; fd handlers work");
    }

    private static int AllOrNone()
    {
        using var first = AioContext.Create();
        if (!first.HasIoUring)
        {
            return Fail("the first context has no io_uring: the kernel refuses it even before the filter");
        }

        Seccomp.DenyIoUringSetup();
        try
        {
            using var second = AioContext.Create();
            return Fail($"the second Create succeeded with {second.Monitor}");
        }
        catch (AioException ex) when (ex.Errno == Errno.EPERM && ex.Message.Contains("all io_uring or none", StringComparison.Ordinal))
        {
            return Ok(ex.Message);
        }
    }

    private static int Explicit()
    {
        Seccomp.DenyIoUringSetup();
        try
        {
            using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
            return Fail("Create(Monitor = IoUring) succeeded under the filter");
        }
        catch (AioException ex) when (ex.Errno == Errno.EPERM)
        {
            return Ok(ex.Message);
        }
    }

    private static int Ok(string message)
    {
        Console.WriteLine("OK: " + message);
        return 0;
    }

    private static int Fail(string message)
    {
        Console.WriteLine("FAIL: " + message);
        return 1;
    }

    private sealed class NullHandler : CqeHandler
    {
        protected internal override void OnCompletion(in Cqe cqe)
        {
        }
    }
}
