using Xunit;

namespace Aio.Tests.Support;

/// <summary>
/// A fact that needs io_uring and a kernel that refuses an allocation larger than memory (vm.overcommit_memory 0 or 2).
/// With 1 (always overcommit; Kubernetes nodes set it) a 64 TiB allocation succeeds, so it cannot stand for one that fails.
/// </summary>
public sealed class HugeAllocationFailsFactAttribute : FactAttribute
{
    public HugeAllocationFailsFactAttribute()
    {
        Skip = MonitorKinds.IoUringSkip;
        if (Skip is null && File.ReadAllText("/proc/sys/vm/overcommit_memory").Trim() == "1")
        {
            Skip = "vm.overcommit_memory is 1: the kernel grants any allocation, so none can be made to fail";
        }
    }
}
