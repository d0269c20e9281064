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
}
