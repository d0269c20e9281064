namespace Aio.Nbd;

/// <summary>A run of bytes that is all data or all hole.</summary>
internal readonly record struct NbdExtent(long Offset, long Length, bool Hole);
