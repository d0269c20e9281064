using System.Net;
using Aio.AspNetCore;
using Aio.Interop;
using Aio.Net;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// Accepts that fail for a reason other than the peer's (EMFILE at the fd limit in practice): an exception out of the
/// transport's AcceptAsync ends Kestrel's accept loop for good, so the transport must log, wait and accept again. The
/// kernel fails accepts on demand when a listening TCP socket is shut down (EINVAL, also for the accept already
/// pending), and listen(2) on it again makes it accept again (on a new port: see below). (EMFILE itself cannot be had here: a .NET process at
/// its fd limit fails fast with "Out of memory." on either transport.)
/// </summary>
public sealed class AcceptFailureTests
{
    private const int SoAcceptConn = 30;   // SO_ACCEPTCONN, asm-generic/socket.h
    private const int SoDomain = 39;       // SO_DOMAIN

    public static TheoryData<TransportKind, bool> Cases => new()
    {
        { TransportKind.Sockets, false },
        { TransportKind.AioThreadPool, false },
        { TransportKind.AioLoop, false },
        { TransportKind.AioLoop, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Accept_failing_for_a_while_does_not_end_the_accept_loop(TransportKind kind, bool listenerPerLoop)
    {
        await using var server = await TestWebServer.StartAsync(
            kind,
            app => app.MapGet("/hello", (HttpContext c) => HttpBasicsTests.Text(c, "hello")),
            aio: o => o.ListenerPerLoop = listenerPerLoop);
        using (var first = server.CreateClient())
        {
            Assert.Equal("hello", await first.GetStringAsync("hello"));
        }

        var listeners = ListeningFds(server.Port);
        Assert.Equal(listenerPerLoop ? 2 : 1, listeners.Count);
        foreach (int fd in listeners)
        {
            Assert.Equal(0, Libc.Shutdown(fd, Libc.SHUT_RDWR));
        }

        if (server.ExpectAio)
        {
            // Every listener's pending accept failed (EINVAL) and was logged once at Warning.
            Wait.Until(
                () => server.Logs.Entries.Count(e => e.EventId.Name == "AcceptRetrying") >= listeners.Count,
                () => Thread.Sleep(10),
                "the transport to log the failed accepts");
            Assert.All(server.Logs.Entries.Where(e => e.EventId.Name == "AcceptRetrying"), e => Assert.Equal(LogLevel.Warning, e.Level));
        }

        // listen(2) again. The listener was bound to port 0, so shutting it down gave its port back, and listening
        // again binds a new one: each listener is reached on its own new port.
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        foreach (int fd in listeners)
        {
            Assert.Equal(0, Libc.Listen(fd, 512));
            var local = Assert.IsType<IPEndPoint>(SocketEndPoints.Query(fd, Libc.AF_INET, peer: false));
            for (int i = 0; i < 4; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{local.Port}/hello") { Headers = { ConnectionClose = true } };
                using var response = await client.SendAsync(request);
                Assert.Equal("hello", await response.Content.ReadAsStringAsync());
            }
        }

        server.AssertNothingLoggedAbove(LogLevel.Warning);
    }

    /// <summary>This process's listening sockets on <paramref name="port"/> (the server's, found by their address).</summary>
    private static List<int> ListeningFds(int port)
    {
        var found = new List<int>();
        foreach (string entry in Directory.GetFileSystemEntries("/proc/self/fd"))
        {
            int fd = int.Parse(Path.GetFileName(entry), System.Globalization.CultureInfo.InvariantCulture);
            string? target = null;
            try
            {
                target = new FileInfo(entry).LinkTarget;
            }
            catch (IOException)
            {
            }

            if (target is null || !target.StartsWith("socket:", StringComparison.Ordinal)
                || Libc.TryGetSockOptInt(fd, Libc.SOL_SOCKET, SoAcceptConn, out int listening) != 0 || listening != 1
                || Libc.TryGetSockOptInt(fd, Libc.SOL_SOCKET, SoDomain, out int domain) != 0 || domain != Libc.AF_INET)
            {
                continue;
            }

            if (SocketEndPoints.Query(fd, Libc.AF_INET, peer: false) is IPEndPoint local && local.Port == port)
            {
                found.Add(fd);
            }
        }

        return found;
    }
}
