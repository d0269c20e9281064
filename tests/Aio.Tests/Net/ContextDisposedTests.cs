using System.Net;
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
