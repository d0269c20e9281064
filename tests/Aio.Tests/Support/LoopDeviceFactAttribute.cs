using Xunit;

namespace Aio.Tests.Support;

/// <summary>A fact that needs a real block device (<see cref="LoopDevice"/>): skipped, with the reason, without root or loop devices.</summary>
public sealed class LoopDeviceFactAttribute : FactAttribute
{
    public LoopDeviceFactAttribute()
    {
        if (Environment.UserName != "root")
        {
            Skip = "needs root to attach a loop device";
        }
        else if (!File.Exists("/dev/loop-control"))
        {
            Skip = "the kernel has no loop devices (/dev/loop-control)";
        }
        else if (!File.Exists("/usr/sbin/losetup") && !File.Exists("/sbin/losetup") && !File.Exists("/usr/bin/losetup"))
        {
            Skip = "losetup is not installed";
        }
    }
}
