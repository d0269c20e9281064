using Aio.Tests.Support;
using Xunit.Abstractions;

namespace Aio.Tests.FaultInjection;

/// <summary>
/// Base of the fault-injection tests: runs an Aio.TestHelper scenario under strace, shows its output in the test
/// log, and asserts that the fault really happened and that every check of the scenario held.
/// </summary>
public abstract class FaultTest
{
    private readonly ITestOutputHelper _output;

    protected FaultTest(ITestOutputHelper output) => _output = output;

    /// <param name="scenario">The helper's scenario name and arguments.</param>
    /// <param name="injections">strace <c>-e inject=</c> specifications.</param>
    /// <param name="injectedInto">Text every counted injected trace line must contain (e.g. an io_uring_register opcode).</param>
    /// <param name="atLeast">How many injected faults prove that the fault reached the code under test.</param>
    protected StraceRun Run(string[] scenario, string[] injections, string? injectedInto = null, int atLeast = 1)
    {
        var run = Strace.Run(scenario, injections);
        _output.WriteLine(run.Describe());
        run.AssertInjected(atLeast, injectedInto);
        run.AssertPassed();
        return run;
    }
}
