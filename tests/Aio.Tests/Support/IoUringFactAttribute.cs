using Xunit;

namespace Aio.Tests.Support;

/// <summary>A fact that is skipped, with the reason, where the kernel refuses io_uring to this process.</summary>
public sealed class IoUringFactAttribute : FactAttribute
{
    public IoUringFactAttribute() => Skip = MonitorKinds.IoUringSkip;
}
