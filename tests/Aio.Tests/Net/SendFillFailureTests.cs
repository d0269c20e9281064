using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

/// <summary>
/// A gathered send whose segment cannot be pinned (a disposed <see cref="AlignedBuffer"/>) fails with
/// <see cref="ObjectDisposedException"/>, sends nothing, gives back the pins it took, and leaves the socket ready for
/// the next send.
/// </summary>
public sealed class SendFillFailureTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_send_with_a_disposed_buffer_fails_alone_and_the_next_send_goes_out(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, NetLoops.Loopback(unix: false));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            using var good = new AlignedBuffer(4096);
            good.GetSpan().Fill(0x11);
            var bad = new AlignedBuffer(4096);
            var badMemory = bad.Memory;
            ((IDisposable)bad).Dispose();

            var failed = server.SendAsync(Sequences.Of(good.Memory, badMemory)).AsTask();
            await Assert.ThrowsAsync<ObjectDisposedException>(() => failed.WaitAsync(Wait.Default));
            Assert.Equal(0, good.PinCount);

            var next = new byte[] { 1, 2, 3, 4 };
            await server.SendAsync(Sequences.Of(next, next)).AsTask().WaitAsync(Wait.Default);
            var received = new byte[8];
            await NetLoops.ReceiveExactlyAsync(client, received).WaitAsync(Wait.Default);
            Assert.Equal(new byte[] { 1, 2, 3, 4, 1, 2, 3, 4 }, received);

            // Nothing of the failed send reached the peer: the next bytes were the second send's.
            server.Dispose();
            Assert.Equal(0, await client.ReceiveAsync(new byte[1]).AsTask().WaitAsync(Wait.Default));
        }
    }
}
