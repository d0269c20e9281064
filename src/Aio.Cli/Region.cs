namespace Aio.Cli;

/// <summary>The part of the file a run touches (fio's --offset and --size): <see cref="Blocks"/> blocks from <see cref="Offset"/>.</summary>
internal readonly record struct Region(long Offset, long Blocks, int BlockSize)
{
    public long Bytes => Blocks * BlockSize;

    public long OffsetOf(long block) => Offset + (block * BlockSize);
}
