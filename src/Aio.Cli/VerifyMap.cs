using System.Runtime.InteropServices;

namespace Aio.Cli;

/// <summary>
/// For --verify: which blocks of the region were written, and the pattern each holds. The pattern depends only on
/// the block's offset, so however often and in whatever order a block is rewritten, it must read back the same.
/// </summary>
internal sealed class VerifyMap
{
    private const ulong Seed = 0x5A17_A10C_0DDB_A11EUL;
    private readonly long[] _written;
    private readonly Region _region;

    public VerifyMap(Region region)
    {
        _region = region;
        _written = new long[(region.Blocks + 63) / 64];
    }

    /// <summary>Fills <paramref name="block"/> with the pattern of the block at <paramref name="offset"/>.</summary>
    public static void Fill(Span<byte> block, long offset)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(block);
        for (int i = 0; i < words.Length; i++)
        {
            words[i] = ((ulong)offset + ((ulong)i * 8)) ^ Seed;
        }
    }

    /// <summary>Marks a block written (from any loop; allocation-free).</summary>
    public void Mark(long block) => Interlocked.Or(ref _written[block >> 6], 1L << (int)(block & 63));

    /// <summary>Reads back every block written through <paramref name="file"/> and counts those that differ.</summary>
    public (long Checked, long Mismatches) Check(BlockFile file)
    {
        int bs = _region.BlockSize;
        using var buffer = new AlignedBuffer(bs, Math.Max(4096, file.Alignment));
        var expected = new byte[bs];
        long checkedBlocks = 0;
        long mismatches = 0;
        for (long block = 0; block < _region.Blocks; block++)
        {
            if ((_written[block >> 6] & (1L << (int)(block & 63))) == 0)
            {
                continue;
            }

            long offset = _region.OffsetOf(block);
            int n = RandomAccess.Read(file.Handle, buffer.Memory.Span, offset);
            Fill(expected, offset);
            checkedBlocks++;
            if (n != bs || !buffer.Memory.Span.SequenceEqual(expected))
            {
                mismatches++;
            }
        }

        return (checkedBlocks, mismatches);
    }
}
