using Aio.Interop;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Block;

/// <summary>Issue 10: AlignedBuffer counts its pins and never frees memory under one.</summary>
public class AlignedBufferTests
{
    [Fact]
    public void Disposing_an_aligned_buffer_while_pinned_frees_it_after_the_last_unpin()
    {
        var buffer = new AlignedBuffer(4096);
        buffer.GetSpan().Fill(0x5A);
        var first = buffer.Memory.Pin();
        var second = buffer.Memory[100..].Pin();
        Assert.Equal(2, buffer.PinCount);
        ((IDisposable)buffer).Dispose();

        // Unusable at once, but the memory stays until the pins are gone.
        Assert.Throws<ObjectDisposedException>(() => buffer.GetSpan());
        Assert.Throws<ObjectDisposedException>(() => buffer.Memory.Pin());
        Assert.Throws<ObjectDisposedException>(() => buffer.Address);
        Assert.False(buffer.IsFreed, "Dispose freed the memory under two pins");
        first.Dispose();
        Assert.False(buffer.IsFreed, "Dispose freed the memory under a pin");
        second.Dispose();
        Assert.True(buffer.IsFreed);
        ((IDisposable)buffer).Dispose();
        Assert.True(buffer.IsFreed);

        var unpinned = new AlignedBuffer(64, 64);
        ((IDisposable)unpinned).Dispose();
        Assert.True(unpinned.IsFreed);
    }

    [IoUringFact]
    public async Task An_aligned_buffer_disposed_under_a_read_in_flight_stays_allocated_until_the_read_completes()
    {
        var (r, w) = Libc.CreatePipe(flags: 0);
        using var pipeRead = new Microsoft.Win32.SafeHandles.SafeFileHandle(r, ownsHandle: true);
        using var pipeWrite = new Microsoft.Win32.SafeHandles.SafeFileHandle(w, ownsHandle: true);
        using var io = IoThread.Start("buffer-dispose");
        var buffer = new AlignedBuffer(4096);
        var pending = io.Context.ReadAsync(pipeRead, buffer.Memory[..16], 0);
        ((IDisposable)buffer).Dispose();
        Assert.False(buffer.IsFreed, "the buffer was freed while the kernel may write into it");
        Assert.Equal(16, Libc.WriteSpan(w, new byte[16]));
        Assert.Equal(16, await pending.AsTask().WaitAsync(Wait.Default));
        Assert.True(buffer.IsFreed, "the read's completion did not release the last pin");
    }

    [Theory]
    [InlineData(128 * 1024, 4096)]
    [InlineData((1024 * 1024) + 512, 512)]
    [InlineData(4096, 4096)]
    [InlineData(256 * 1024, 2 * 1024 * 1024)]
    public void A_buffer_is_zeroed_aligned_and_large_ones_are_mappings_of_their_own(int length, int alignment)
    {
        // Large buffers come from mmap, which hands out zeroed pages (no clearing by hand); alignments above the page
        // size and small buffers come from the heap and are cleared. Either way: zeroed, aligned, freed once.
        var buffer = new AlignedBuffer(length, alignment);
        nint address = buffer.Address;
        Assert.Equal(0, address % alignment);
        Assert.True(buffer.GetSpan().IndexOfAnyExcept((byte)0) < 0, "a new buffer is not zeroed");
        bool expectMapping = length >= 128 * 1024 && alignment <= Environment.SystemPageSize;
        Assert.Equal(expectMapping, buffer.IsMapping);
        if (expectMapping)
        {
            // The kernel may merge the new mapping with an anonymous neighbour of the same protection, so the mapping
            // need not start at the buffer: it has to cover it, and be anonymous.
            Assert.True(MappedAnonymously(address, length), "no anonymous mapping covers the buffer");
        }

        buffer.GetSpan().Fill(0xA5);
        var pin = buffer.Memory.Pin();
        ((IDisposable)buffer).Dispose();
        Assert.False(buffer.IsFreed, "freed under a pin");
        pin.Dispose();
        Assert.True(buffer.IsFreed);
    }

    /// <summary>Whether /proc/self/maps has one anonymous read-write mapping that covers the whole buffer.</summary>
    private static bool MappedAnonymously(nint address, int length)
    {
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            // start-end perms offset dev inode [path]
            string[] fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            int dash = fields[0].IndexOf('-');
            long start = long.Parse(fields[0][..dash], System.Globalization.NumberStyles.HexNumber);
            long end = long.Parse(fields[0][(dash + 1)..], System.Globalization.NumberStyles.HexNumber);
            if (start <= address && address < end)
            {
                return end >= address + (long)length && fields[1].StartsWith("rw", StringComparison.Ordinal) && fields[4] == "0";
            }
        }

        return false;
    }
}
