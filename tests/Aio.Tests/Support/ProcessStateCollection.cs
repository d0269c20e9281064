using Xunit;

namespace Aio.Tests.Support;

/// <summary>
/// Tests that observe state the whole process shares (the event source's listeners, the NBD buffer pool) run alone:
/// a test running beside them changes that state, which they would blame on the code under test.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessStateCollection
{
    public const string Name = "process state";
}
