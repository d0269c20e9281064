using System.Net;
using System.Net.Sockets;
using Aio.Nbd;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>
/// Accepts failing for a while (EMFILE at the fd limit in practice; here a listener shut down, see
/// <see cref="ListeningSockets"/>): the server logs the first failure of the run once, backs off instead of spinning
/// on the loop that also serves its clients, and accepts again once the listener works again.
/// </summary>
public sealed class NbdAcceptFailureTests
{
    [Fact]
    public void Failing_accepts_are_logged_once_and_the_server_accepts_again()
    {
        using var server = new NbdTestServer(size: 1 << 20, configure: o => o with { Listen = [new IPEndPoint(IPAddress.Loopback, 0)] });
        var lines = server.LogLines;
        int port = ((IPEndPoint)server.Server.EndPoints[0]).Port;
        int fd = Assert.Single(ListeningSockets.OnPort(port));
        var failing = System.Diagnostics.Stopwatch.StartNew();
        ListeningSockets.Stop(fd);
        Wait.Until(() => lines.Any(l => l.Contains("accept failed", StringComparison.Ordinal)), () => Thread.Sleep(10), "the server to log the failed accept");

        // Listening again (on a new port: it was bound to port 0). A loop that spun on the failure would have
        // logged it again and again by now.
        int again = ListeningSockets.Relisten(fd);
        failing.Stop();

        // Backed off, not spun: at most one attempt per back-off period while the listener failed.
        long bound = (long)(failing.Elapsed / NbdServer.AcceptBackoff) + 2;
        Assert.InRange(server.Server.AcceptFailures, 1, bound);
        using var client = NbdTestServer.ConnectOverTcp(again);
        Assert.Single(lines, l => l.Contains("accept failed", StringComparison.Ordinal));
    }
}
