using Xunit;

namespace Aio.Tests.Packaging;

/// <summary>
/// The packaging tests run alone (their builds take both cores of a small CI machine for a while). A class of its own:
/// with the definition on the test class itself, xunit made a second <see cref="PackagesFixture"/> (a second pack)
/// that it never disposed.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PackagingCollection
{
    public const string Name = "packaging";
}
