namespace Aio;

/// <summary>
/// A run of bytes of a <see cref="BlockFile"/> that is all data or all hole, as <see cref="BlockFile.GetExtent"/>
/// reports it.
/// </summary>
/// <param name="Offset">Where the run starts, in bytes from the start of the file.</param>
/// <param name="Length">Its length in bytes (at least 1).</param>
/// <param name="IsHole">
/// True when the file system holds no data for the run: it reads back as zeros and takes no space. False when it
/// holds data (which may still be zeros).
/// </param>
public readonly record struct BlockExtent(long Offset, long Length, bool IsHole);
