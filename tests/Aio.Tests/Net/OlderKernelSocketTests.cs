using System.Net;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

/// <summary>
/// A ring without the socket operations (a kernel before 5.6 has io_uring but no RECV or SEND; its probe says so):
/// the sockets take the readiness path on that ring instead of submitting requests the kernel would refuse. The
/// kernel here has them all, so the context is told to forget one (a fake only for what this kernel cannot be).
/// </summary>
public class OlderKernelSocketTests
{
    [IoUringFact]
    public async Task A_ring_with_every_socket_operation_runs_the_sockets()
    {
        await using var loop = IoThread.Start("full-kernel", new AioContextOptions { Monitor = FdMonitorKind.IoUring });
        Assert.True(loop.Context.SocketsUseRing);
        await using var listener = AioListener.Bind(loop.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var accept = listener.AcceptAsync().AsTask();
        await using var a = await AioSocket.ConnectAsync(loop.Context, listener.LocalEndPoint).AsTask().WaitAsync(Wait.Default);
        await using var b = await accept.WaitAsync(Wait.Default);
        Assert.True(a.OnRing && b.OnRing);
    }

    [IoUringTheory]
    [InlineData(IoUringOpcode.Recv)]
    [InlineData(IoUringOpcode.Accept)]
    [InlineData(IoUringOpcode.SendMsg)]
    public async Task Without_one_socket_operation_sockets_work_on_readiness(IoUringOpcode missing)
    {
        var options = new AioContextOptions { Monitor = FdMonitorKind.IoUring, SimulatedMissingOpcodes = [missing] };
        await using var server = IoThread.Start("older-kernel-server", options);
        await using var client = IoThread.Start("older-kernel-client", options);
        Assert.True(server.Context.HasIoUring);
        Assert.False(server.Context.SocketsUseRing);

        await using var listener = AioListener.Bind(server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var accept = listener.AcceptAsync().AsTask();
        await using var a = await AioSocket.ConnectAsync(client.Context, listener.LocalEndPoint).AsTask().WaitAsync(Wait.Default);
        await using var b = await accept.WaitAsync(Wait.Default);

        var data = new byte[1 << 20];
        new Random(11).NextBytes(data);
        var sending = a.SendAsync(data).AsTask();
        var received = new byte[data.Length];
        await NetLoops.ReceiveExactlyAsync(b, received).WaitAsync(Wait.Default);
        await sending.WaitAsync(Wait.Default);
        Assert.True(data.AsSpan().SequenceEqual(received), "bytes were lost or reordered on the readiness path");
        Assert.False(a.OnRing || b.OnRing, "a socket submitted ring requests the kernel does not support");
    }
}
