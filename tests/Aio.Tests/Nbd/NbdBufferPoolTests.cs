using Aio.Nbd;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>The process-wide pool of the NBD server's I/O buffers.</summary>
public sealed class NbdBufferPoolTests
{
    [Fact]
    public void A_buffer_returned_while_still_pinned_is_never_pooled()
    {
        // What a request abandoned by its context's Dispose returns: the kernel may still write into it, so the next
        // renter must not get it. Disposed instead; freed only when the pin goes.
        var buffer = NbdBufferPool.Rent(64 * 1024);
        var pin = buffer.Memory.Pin();
        Assert.True(buffer.IsPinned);
        NbdBufferPool.Return(buffer);
        Assert.Throws<ObjectDisposedException>(() => buffer.Memory.Span.Length);
        Assert.False(buffer.IsFreed);
        pin.Dispose();
        Assert.True(buffer.IsFreed);
        Assert.False(buffer.IsPinned);
    }
}
