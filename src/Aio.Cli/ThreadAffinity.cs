using System.Runtime.InteropServices;

namespace Aio.Cli;

/// <summary>
/// Pins the calling thread to a set of CPUs (sched_setaffinity of thread 0, "this thread"): fio's cpus_allowed for a
/// loop thread. .NET's <c>Process.ProcessorAffinity</c> pins every thread of the process, the JIT's and the
/// thread pool's included, which is not what a loop-against-C-loop comparison wants.
/// </summary>
internal static class ThreadAffinity
{
    private const int EINVAL = 22;

    /// <summary>Pins the calling thread; a list with no CPU this machine has online is a usage error.</summary>
    public static void Set(CpuList cpus, string option)
    {
        var mask = cpus.ToMask();
        if (SchedSetAffinity(0, (nuint)mask.Length, mask) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno == EINVAL
                ? new UsageException($"{option} {cpus.Text}: none of these CPUs is online (or allowed to this process)")
                : new UsageException($"{option} {cpus.Text}: sched_setaffinity failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    // A byte[] mask rather than a pointer: the CLI has no unsafe code.
    [DllImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static extern int SchedSetAffinity(int pid, nuint cpusetsize, byte[] mask);
}
