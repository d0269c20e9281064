using System.Net;
using System.Net.Sockets;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

/// <summary>
/// The sockets' static entry points answer to the parameter names of the public contract (callers may pass them by
/// name: a renamed parameter breaks them at compile time, which this file then does too).
/// </summary>
public class SocketApiNamesTests
{
    [IoUringFact]
    public async Task Bind_ConnectAsync_and_Adopt_take_their_arguments_by_the_contracts_names()
    {
        using var loops = new NetLoops(FdMonitorKind.IoUring);
        await using var listener = AioListener.Bind(ctx: loops.Server.Context, endPoint: new IPEndPoint(IPAddress.Loopback, 0), backlog: 16);
        var accept = listener.AcceptAsync(ct: CancellationToken.None).AsTask();
        await using (var client = await AioSocket.ConnectAsync(ctx: loops.Client.Context, remote: listener.LocalEndPoint, ct: CancellationToken.None).Within("the connect"))
        await using (var server = await accept.Within("the accept"))
        {
            Assert.Same(loops.Client.Context, client.Context);
            Assert.Same(loops.Server.Context, server.Context);
        }

        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await raw.ConnectAsync(listener.LocalEndPoint).Within("the raw socket's connect");
        await using var accepted = await listener.AcceptAsync().Within("the second accept");
        await using var adopted = AioSocket.Adopt(ctx: loops.Client.Context, socket: raw);
        Assert.Same(loops.Client.Context, adopted.Context);
    }
}
