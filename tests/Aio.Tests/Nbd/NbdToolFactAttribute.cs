using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>A fact skipped, with the reason, when a client tool it runs is not installed (CI installs them all).</summary>
public sealed class NbdToolFactAttribute : FactAttribute
{
    public NbdToolFactAttribute(params string[] tools)
    {
        foreach (string tool in tools)
        {
            if (NbdTools.Find(tool) is null)
            {
                Skip = $"{tool} is not installed (apt-get install qemu-utils libnbd-bin python3-libnbd nbdkit fio)";
                return;
            }
        }
    }
}
