using Aio.Nbd;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>
/// Writes in flight at once on an O_DIRECT export: an unaligned write reads, merges and writes back whole blocks, so an
/// aligned write of the same block that lands between its read and its write would be undone by the stale copy. NBD
/// leaves the order of overlapping writes open, but the result must be one of the two orders.
/// </summary>
public class NbdExportWriteOrderTests
{
    private const int Blocks = 64;
    private const int Partial = 100;

    [IoUringFact]
    public async Task An_aligned_write_racing_a_read_modify_write_of_the_same_block_is_never_undone()
    {
        using var dir = new TempDir();
        var (path, initial) = dir.CreateFile("disk", Blocks * 4096, seed: 31);
        using var io = IoThread.Start("nbd-write-order");
        using var export = NbdExport.Open(io.Context, new NbdExportOptions { Path = path });
        int block = export.Alignment;
        Assert.True(block > Partial + 1, $"O_DIRECT alignment {block}: no read-modify-write to race");
        var file = export.FileFor(io.Context);
        using var check = File.OpenHandle(path);

        for (int b = 0; b < Blocks; b++)
        {
            long offset = (long)b * block;
            var partial = NbdBufferPool.Rent(block);
            var whole = NbdBufferPool.Rent(block);
            try
            {
                var (_, _, skip) = NbdExportIo.Span(export, offset + 1, Partial);
                partial.Memory.Span.Slice(skip, Partial).Fill(0xAA);
                whole.Memory.Span[..block].Fill(0xBB);

                // Both start in the same loop turn, the unaligned one first: its read of the block and the aligned
                // write go to the kernel together.
                await io.Context.InvokeAsync(() => Task.WhenAll(
                    NbdExportIo.WriteAsync(export, file, partial, offset + 1, Partial, fua: false).AsTask(),
                    NbdExportIo.WriteAsync(export, file, whole, offset, block, fua: false).AsTask())).WaitAsync(Wait.Default);
            }
            finally
            {
                NbdBufferPool.Return(partial);
                NbdBufferPool.Return(whole);
            }

            var back = new byte[block];
            RandomAccess.Read(check, back, offset);
            bool partialLast = back.AsSpan(1, Partial).IndexOfAnyExcept((byte)0xAA) < 0;
            bool wholeLast = back.AsSpan(1, Partial).IndexOfAnyExcept((byte)0xBB) < 0;
            Assert.True(partialLast || wholeLast, $"block {b}: bytes 1..{Partial} are from neither write");
            Assert.True(back[0] == 0xBB && back.AsSpan(1 + Partial).IndexOfAnyExcept((byte)0xBB) < 0,
                $"block {b}: the aligned write was undone (byte 0 {back[0]:x2} initial {initial[offset]:x2}): a read-modify-write wrote back its stale copy");
        }
    }
}
