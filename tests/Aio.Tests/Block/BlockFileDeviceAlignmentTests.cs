using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Block;

/// <summary>
/// O_DIRECT on a device whose logical blocks (8 KiB) are larger than the memory alignment it asks of buffers (512):
/// offsets and lengths follow the blocks, buffers only the memory alignment, as statx's STATX_DIOALIGN reports them.
/// </summary>
public class BlockFileDeviceAlignmentTests
{
    [LoopDeviceFact(SectorSize = 8192)]
    public async Task A_device_with_8_KiB_blocks_takes_8_KiB_offsets_into_buffers_aligned_only_to_its_memory_alignment()
    {
        using var device = LoopDevice.TryCreate(1 << 20, out string why, sectorSize: 8192);
        Assert.True(device is not null, why);
        using var io = IoThread.Start("dio-align");
        var engines = MonitorKinds.IoUringAvailable ? new[] { BlockEngine.Threads, BlockEngine.IoUring } : [BlockEngine.Threads];
        foreach (var engine in engines)
        {
            using var file = BlockFile.Open(io.Context, device!.Path, new BlockFileOptions { Direct = true, Engine = engine });
            Assert.Equal(8192, file.Alignment);
            Assert.True(file.MemoryAlignment is > 0 and <= 4096, $"memory alignment {file.MemoryAlignment} ({engine})");

            // A buffer at 4 KiB past an 8 KiB boundary: aligned to the memory alignment, not to the blocks.
            using var buffer = new AlignedBuffer(3 * 8192, 8192);
            var slice = buffer.Memory.Slice(4096, 2 * 8192);
            var pattern = new byte[slice.Length];
            new Random((int)engine + 3).NextBytes(pattern);
            pattern.CopyTo(slice);
            Assert.Equal(slice.Length, await file.WriteAsync(slice, 8192).AsTask().WaitAsync(Wait.Default));
            slice.Span.Clear();
            Assert.Equal(slice.Length, await file.ReadAsync(slice, 8192).AsTask().WaitAsync(Wait.Default));
            Assert.True(slice.Span.SequenceEqual(pattern), $"the data read back differs ({engine})");

            // Offsets and lengths still follow the blocks, and the address the memory alignment.
            Assert.Throws<ArgumentException>(() => file.ReadAsync(slice, 4096));
            Assert.Throws<ArgumentException>(() => file.ReadAsync(slice[..4096], 0));
            Assert.Throws<ArgumentException>(() => file.ReadAsync(buffer.Memory.Slice(1, 8192), 0));
        }
    }
}
