namespace Aio.Cli;

/// <summary><c>aio probe</c>: sets up a ring the way a context would and prints what the kernel accepted.</summary>
internal static class Probe
{
    public static int Run()
    {
        Console.WriteLine($"aio {Program.Version}");
        try
        {
            using var ring = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, Name = "probe" });
            var s = ring.IoUring!;
            Console.WriteLine($"io_uring: sq {s.SqEntries}, cq {s.CqEntries}, flags 0x{s.Flags:x}, features 0x{s.Features:x}");
            Console.WriteLine($"  single-issuer {s.SingleIssuer}, defer-taskrun {s.DeferTaskrun}, coop-taskrun {s.CoopTaskrun}, taskrun-flag {s.TaskrunFlag}");
        }
        catch (AioException ex)
        {
            Console.WriteLine($"io_uring: unavailable ({ex.Message})");
        }

        using var ctx = AioContext.Create();
        Console.WriteLine($"default context monitor: {ctx.Monitor}");
        return 0;
    }
}
