using Xunit;

namespace Aio.Tests.Support;

/// <summary>A theory that is skipped, with the reason, where the kernel refuses io_uring to this process.</summary>
public sealed class IoUringTheoryAttribute : TheoryAttribute
{
    public IoUringTheoryAttribute() => Skip = MonitorKinds.IoUringSkip;
}
