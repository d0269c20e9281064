using Aio.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aio.Tests.FaultInjection;

/// <summary>io_uring_setup fails (ENOMEM: RLIMIT_MEMLOCK on old kernels, memory cgroup; EMFILE: fd table full).</summary>
public class SetupFaultTests : FaultTest
{
    public SetupFaultTests(ITestOutputHelper output)
        : base(output)
    {
    }

    [StraceTheory(RequiresIoUring = true)]
    [InlineData("ENOMEM")]
    [InlineData("EMFILE")]
    public void Failing_io_uring_setup_falls_back_to_a_working_poll_context_and_reports_the_fallback(string errno)
        => Run(["setup-fallback", errno], [$"io_uring_setup:error={errno}"]);

    [StraceTheory(RequiresIoUring = true)]
    [InlineData("ENOMEM")]
    [InlineData("EMFILE")]
    public void Explicit_io_uring_with_failing_io_uring_setup_throws_AioException_naming_the_call(string errno)
        => Run(["setup-explicit", errno], [$"io_uring_setup:error={errno}"]);
}
