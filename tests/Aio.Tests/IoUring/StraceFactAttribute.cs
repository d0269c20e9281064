using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.IoUring;

/// <summary>An io_uring fact that needs strace fault injection: skipped, with the reason, where either is missing.</summary>
public sealed class StraceFactAttribute : FactAttribute
{
    public StraceFactAttribute()
    {
        if (!MonitorKinds.IoUringAvailable)
        {
            Skip = "the kernel refuses io_uring to this process (seccomp or kernel.io_uring_disabled)";
        }
        else if (!StraceChild.Available)
        {
            Skip = "strace is not installed or may not trace here (.ci/run installs it)";
        }
    }
}
