using System.Net;
using System.Net.Sockets;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

/// <summary>
/// A socket's pending operations end when its context is disposed under it, on every monitor: the ring path through
/// the cancellation of its requests, the fd-handler path (poll, epoll) because the loop tells the sockets waiting for
/// readiness that no readiness will come.
/// </summary>
public class ContextDisposedTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_pending_receive_ends_when_its_context_is_disposed(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Client.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var accept = listener.AcceptAsync().AsTask();
        await using var client = await AioSocket.ConnectAsync(loops.Server.Context, listener.LocalEndPoint);
        await using var peer = await accept.WaitAsync(Wait.Default);

        // The client socket lives on the "server" loop, which is disposed under it.
        var pending = client.ReceiveAsync(new byte[16]).AsTask();
        await loops.Server.DisposeAsync();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => pending.WaitAsync(Wait.Default));
        Assert.True(error is ObjectDisposedException or OperationCanceledException, $"{kind}: ended with {error.GetType().Name}: {error.Message}");
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_pending_connect_ends_when_its_context_is_disposed(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        // A listener whose accept queue is full (backlog 0 holds one connection nobody accepts): the kernel drops
        // further SYNs, so the next connect stays in SYN_SENT, retrying, for a minute or more.
        using var full = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        full.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        full.Listen(0);
        using var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await filler.ConnectAsync(full.LocalEndPoint!).WaitAsync(Wait.Default);

        var pending = AioSocket.ConnectAsync(loops.Server.Context, full.LocalEndPoint!).AsTask();
        Assert.False(pending.IsCompleted, $"{kind}: the connect to a full accept queue completed: {pending.Status}");
        await loops.Server.DisposeAsync();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => pending.WaitAsync(Wait.Default));
        Assert.True(error is ObjectDisposedException or OperationCanceledException, $"{kind}: ended with {error.GetType().Name}: {error.Message}");
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_pending_accept_ends_when_its_context_is_disposed(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        var pending = listener.AcceptAsync().AsTask();
        await loops.Server.DisposeAsync();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => pending.WaitAsync(Wait.Default));
        Assert.True(error is ObjectDisposedException or OperationCanceledException, $"{kind}: ended with {error.GetType().Name}: {error.Message}");
    }
}
