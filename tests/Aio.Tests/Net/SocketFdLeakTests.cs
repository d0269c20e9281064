using System.Net;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Net;

/// <summary>Connection churn with an exact fd count: alone, so that no other test's fds are counted.</summary>
[Collection(FdCountingCollection.Name)]
public class SocketFdLeakTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task Thousands_of_connections_accepted_and_closed_leak_no_fd(FdMonitorKind kind)
    {
        using var loops = new NetLoops(kind);
        await using var listener = AioListener.Bind(loops.Server.Context, new IPEndPoint(IPAddress.Loopback, 0));
        await RoundAsync(loops, listener, 100);
        // 10,000 on the ring. The fd-handler fallback pays a loop wake-up per step (about 1-2 ms a connection on this
        // kind of VM), so it runs 2,000 to keep the suite short; the leak check is the same.
        int count = kind == FdMonitorKind.IoUring ? 10_000 : 2_000;
        int before = NetLoops.OpenFds();
        var named = NetLoops.FdTargets();
        int served = await RoundAsync(loops, listener, count);
        Assert.Equal(count, served);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (NetLoops.OpenFds() > before && waited.Elapsed < Wait.Default)
        {
            Thread.Sleep(1);
        }

        // On failure, what the extra fds are (a leak of this code names sockets; the runtime's lazy fds name others).
        Assert.True(NetLoops.OpenFds() <= before, $"the fd count did not return to {before} (now {NetLoops.OpenFds()}; new: {NetLoops.NewFds(named)})");
    }

    private static async Task<int> RoundAsync(NetLoops loops, AioListener listener, int count)
    {
        var server = Task.Run(async () =>
        {
            int n = 0;
            for (int i = 0; i < count; i++)
            {
                var s = await listener.AcceptAsync();
                var b = new byte[1];
                if (await s.ReceiveAsync(b) == 1)
                {
                    n++;
                }

                await s.DisposeAsync();
            }

            return n;
        });
        for (int i = 0; i < count; i++)
        {
            var c = await AioSocket.ConnectAsync(loops.Client.Context, listener.LocalEndPoint).Within("a client's connect");
            await c.SendAsync(new byte[] { 7 }).Within("a client's send");
            await c.DisposeAsync();
        }

        return await server.WaitAsync(TimeSpan.FromSeconds(60));
    }
}
