using Aio.Tests.FaultInjection;
using Aio.Tests.Support;
using Xunit.Abstractions;

namespace Aio.Tests.Net;

/// <summary>Sockets where io_uring_setup is refused for real (strace injects EPERM, as a container seccomp profile does).</summary>
public class NetFallbackTests : FaultTest
{
    public NetFallbackTests(ITestOutputHelper output)
        : base(output)
    {
    }

    [StraceFact(RequiresIoUring = true)]
    public void Sockets_work_on_fd_handlers_when_io_uring_setup_is_refused()
        => Run(["net-fallback"], ["io_uring_setup:error=EPERM"]);
}
