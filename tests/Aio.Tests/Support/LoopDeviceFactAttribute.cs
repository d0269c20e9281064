using Xunit;

namespace Aio.Tests.Support;

/// <summary>A fact that needs a real block device (<see cref="LoopDevice"/>): skipped, with the reason, without root or loop devices.</summary>
public sealed class LoopDeviceFactAttribute : FactAttribute
{
    private int _sectorSize;

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

    /// <summary>
    /// The logical block size the test's device needs. Above the page size, Linux's block layer takes it from 6.15 on
    /// (a loop device refuses it before).
    /// </summary>
    public int SectorSize
    {
        get => _sectorSize;
        set
        {
            _sectorSize = value;
            if (Skip is null && value > Environment.SystemPageSize && Environment.OSVersion.Version < new Version(6, 15))
            {
                Skip = $"logical blocks of {value} bytes need Linux 6.15 or later (this is {Environment.OSVersion.Version})";
            }
        }
    }
}
