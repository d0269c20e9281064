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
            return MonitorKinds.IoUringRefused + ", so the io_uring faults cannot be injected";
        }

        return null;
    }
}
