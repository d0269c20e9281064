using Aio.Uring;

namespace Aio.Cli;

/// <summary><c>aio probe</c>: sets up a ring the way a context would and prints what the kernel accepted.</summary>
internal static class Probe
{
    public static int Run()
    {
        try
        {
            using var ring = Ring.Create();
            var s = ring.Setup;
            Console.WriteLine($"io_uring: sq {s.SqEntries}, cq {s.CqEntries}, flags 0x{s.Flags:x}, features 0x{s.Features:x}");
            Console.WriteLine($"  single-issuer {s.SingleIssuer}, defer-taskrun {s.DeferTaskrun}, coop-taskrun {s.CoopTaskrun}, taskrun-flag {s.TaskrunFlag}");
            return 0;
        }
        catch (AioException ex)
        {
            Console.Error.WriteLine($"aio: io_uring unavailable: {ex.Message}");
            return 1;
        }
    }
}
