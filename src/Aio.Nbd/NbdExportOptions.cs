namespace Aio.Nbd;

/// <summary>One export of an <see cref="NbdServer"/>: a file served under a name.</summary>
public sealed record NbdExportOptions
{
    /// <summary>The file or block device to serve; the export's size is its exact size.</summary>
    public required string Path { get; init; }

    /// <summary>The export name clients ask for ("" = the default export).</summary>
    public string Name { get; init; } = "";

    /// <summary>Text for NBD_INFO_DESCRIPTION and NBD_OPT_LIST, or null.</summary>
    public string? Description { get; init; }

    /// <summary>Serve read-only: writes, trims and zeroes fail with EPERM.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>O_DIRECT (true, <c>--cache none</c>) or the page cache (false, <c>--cache writeback</c>).</summary>
    public bool Direct { get; init; } = true;
}
