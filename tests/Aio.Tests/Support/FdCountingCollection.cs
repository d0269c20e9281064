using Xunit;

namespace Aio.Tests.Support;

/// <summary>
/// Tests that count this process's open fds (/proc/self/fd) run alone: any test running beside them opens and closes
/// fds of its own, which an exact count would blame on the code under test.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FdCountingCollection
{
    public const string Name = "fd counting";
}
