namespace Aio;

/// <summary>How <see cref="BlockFile.Open"/> opens a file.</summary>
public sealed record BlockFileOptions
{
    /// <summary>O_DIRECT: bypass the page cache; buffers, offsets and lengths must be multiples of <see cref="BlockFile.Alignment"/>.</summary>
    public bool Direct { get; init; }

    /// <summary>Open read-only.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>The I/O engine.</summary>
    public BlockEngine Engine { get; init; }
}
