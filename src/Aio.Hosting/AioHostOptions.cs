namespace Aio.Hosting;

/// <summary>Options of the loops <see cref="AioServiceCollectionExtensions.AddAio"/> registers.</summary>
public sealed class AioHostOptions
{
    /// <summary>Thread name prefix: the loops are <c>Name-0</c>, <c>Name-1</c>, ...</summary>
    public string Name { get; set; } = "aio";

    /// <summary>Loops to start; 0 = <see cref="Environment.ProcessorCount"/>.</summary>
    public int LoopCount { get; set; }

    /// <summary>How each loop's context is created (null: defaults).</summary>
    public AioContextOptions? Context { get; set; }
}
