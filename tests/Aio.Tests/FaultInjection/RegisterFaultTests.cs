using Aio.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aio.Tests.FaultInjection;

/// <summary>IORING_REGISTER_ENABLE_RINGS fails once, on the home thread's first Poll (issue 10 item 12).</summary>
public class RegisterFaultTests : FaultTest
{
    public RegisterFaultTests(ITestOutputHelper output)
        : base(output)
    {
    }

    /// <summary>
    /// when=1 fails each thread's first io_uring_register: the helper lets a throwaway context's probe take the
    /// main thread's, and polls the real context from a new thread, whose first one is ENABLE_RINGS.
    /// </summary>
    [StraceTheory(RequiresIoUring = true)]
    [InlineData("EINTR")]
    [InlineData("EBUSY")]
    public void A_failed_ENABLE_RINGS_leaves_a_context_that_works_from_the_next_Poll(string errno)
        => Run(["register-enable", errno], [$"io_uring_register:error={errno}:when=1"], injectedInto: "IORING_REGISTER_ENABLE_RINGS");
}
