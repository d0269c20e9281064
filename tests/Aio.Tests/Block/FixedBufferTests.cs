using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Block;

/// <summary>
/// An AlignedBuffer used for BlockFile I/O on the ring is registered with the ring on first use, and its requests
/// become READ_FIXED/WRITE_FIXED (the kernel pins its pages once instead of per request); slots go back when buffers
/// are freed.
/// </summary>
public class FixedBufferTests
{
    [IoUringFact]
    public async Task Reads_and_writes_through_a_registered_buffer_see_the_right_data()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("disk", 1 << 20, seed: 11);
        using var io = IoThread.Start("fixed-buffer");
        await using var file = BlockFile.Open(io.Context, path, new BlockFileOptions { Engine = BlockEngine.IoUring, Direct = true });
        using var buffer = new AlignedBuffer(128 * 1024, 4096);
        Assert.Equal(-1, buffer.RegisteredSlot);
        for (int i = 0; i < 8; i++)
        {
            long offset = i * 128L * 1024;
            Assert.Equal(buffer.Length, await file.ReadAsync(buffer.Memory, offset).AsTask().WaitAsync(Wait.Default));
            Assert.True(buffer.Memory.Span.SequenceEqual(content.AsSpan((int)offset, buffer.Length)), $"read {i} returned other data");
            Assert.True(buffer.RegisteredSlot >= 0, "the buffer was not registered with the ring on its first use");
        }

        // A slice of the buffer (not at its start) is still inside the registered region.
        var slice = buffer.Memory.Slice(64 * 1024, 8192);
        slice.Span.Fill(0xa5);
        await file.WriteAsync(slice, 4096).AsTask().WaitAsync(Wait.Default);
        Assert.Equal(8192, await file.ReadAsync(buffer.Memory[..8192], 4096).AsTask().WaitAsync(Wait.Default));
        Assert.All(buffer.Memory.Span[..8192].ToArray(), b => Assert.Equal(0xa5, b));
    }

    [IoUringFact]
    public async Task Freed_buffers_give_their_slots_back()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("disk", 4096, seed: 13);
        using var io = IoThread.Start("fixed-buffer-reuse");
        await using var file = BlockFile.Open(io.Context, path, new BlockFileOptions { Engine = BlockEngine.IoUring, Direct = true });

        // More buffers, one after the other, than the table has slots.
        for (int i = 0; i < 1100; i++)
        {
            using var buffer = new AlignedBuffer(4096, 4096);
            Assert.Equal(4096, await file.ReadAsync(buffer.Memory, 0).AsTask().WaitAsync(Wait.Default));
            Assert.True(buffer.Memory.Span.SequenceEqual(content), $"buffer {i} read other data");
            Assert.True(buffer.RegisteredSlot >= 0, $"buffer {i} got no slot: earlier buffers kept theirs");
        }
    }

    [IoUringFact]
    public async Task A_buffer_used_on_two_loops_is_registered_with_one_and_correct_on_both()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("disk", 64 * 1024, seed: 17);
        using var first = IoThread.Start("fixed-buffer-a");
        using var second = IoThread.Start("fixed-buffer-b");
        await using var a = BlockFile.Open(first.Context, path, new BlockFileOptions { Engine = BlockEngine.IoUring, Direct = true });
        await using var b = BlockFile.Open(second.Context, path, new BlockFileOptions { Engine = BlockEngine.IoUring, Direct = true });
        using var buffer = new AlignedBuffer(16 * 1024, 4096);
        for (int i = 0; i < 4; i++)
        {
            var file = i % 2 == 0 ? a : b;
            long offset = i * 16L * 1024;
            Assert.Equal(buffer.Length, await file.ReadAsync(buffer.Memory, offset).AsTask().WaitAsync(Wait.Default));
            Assert.True(buffer.Memory.Span.SequenceEqual(content.AsSpan((int)offset, buffer.Length)), $"read {i} returned other data");
        }

        Assert.True(buffer.RegisteredSlot >= 0);
    }
}
