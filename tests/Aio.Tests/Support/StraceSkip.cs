namespace Aio.Tests.Support;

/// <summary>Why a strace test cannot run here, or null when it can.</summary>
internal static class StraceSkip
{
    public static string? Reason(bool requiresIoUring)
    {
        if (Strace.Executable is null)
        {
            return Strace.NotInstalled;
        }

        if (requiresIoUring && !MonitorKinds.IoUringAvailable)
        {
            return "the kernel refuses io_uring to this process (seccomp or kernel.io_uring_disabled), so the io_uring faults cannot be injected";
        }

        return null;
    }
}
