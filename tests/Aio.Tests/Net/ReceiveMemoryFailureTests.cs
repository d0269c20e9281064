using System.Net;
using System.Net.Sockets;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

/// <summary>
/// A receive whose memory cannot be used when the loop comes to it (a disposed <see cref="AlignedBuffer"/>) fails with
/// why, and a socket used on its loop's thread after the context is gone fails every call alike: neither leaves the
/// operation pending, where it would refuse every later receive and, on the ring, keep taking the loop's shared buffers.
/// </summary>
public sealed class ReceiveMemoryFailureTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_receive_into_a_disposed_buffer_fails_with_ObjectDisposedException_and_the_next_receive_gets_the_data(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            var gone = new AlignedBuffer(4096);
            var memory = gone.Memory;
            ((IDisposable)gone).Dispose();

            var pending = server.ReceiveAsync(memory).AsTask();
            await client.SendAsync("hello"u8.ToArray()).AsTask().WaitAsync(Wait.Default);
            await Assert.ThrowsAsync<ObjectDisposedException>(() => pending.WaitAsync(Wait.Default));

            // The data was not consumed by the failed receive, and the socket takes the next one.
            var buffer = new byte[5];
            await NetLoops.ReceiveExactlyAsync(server, buffer).WaitAsync(Wait.Default);
            Assert.Equal("hello"u8.ToArray(), buffer);
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task On_the_home_thread_after_the_context_is_disposed_every_receive_and_send_throws_ObjectDisposedException(FdMonitorKind kind)
    {
        using var dotnetListener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        dotnetListener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        dotnetListener.Listen(1);
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        peer.Connect(dotnetListener.LocalEndPoint!);
        var accepted = dotnetListener.Accept();

        var ctx = MonitorKinds.Create(kind);
        ctx.Poll(false); // this thread is its home now
        var socket = AioSocket.Adopt(ctx, accepted);
        ctx.Dispose();

        try
        {
            for (int i = 0; i < 2; i++)
            {
                await Assert.ThrowsAsync<ObjectDisposedException>(async () => await socket.ReceiveAsync(new byte[16]));
                await Assert.ThrowsAsync<ObjectDisposedException>(async () => await socket.SendAsync(new byte[16]));
            }
        }
        finally
        {
            // A socket outlives its loop: its close runs after the teardown, and closes the adopted Socket's fd.
            await socket.DisposeAsync().AsTask().WaitAsync(Wait.Default);
        }

        Assert.Throws<ObjectDisposedException>(() => accepted.Available);
    }
}
