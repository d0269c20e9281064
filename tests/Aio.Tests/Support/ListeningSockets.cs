using System.Net;
using System.Runtime.InteropServices;
using Aio.Interop;
using Aio.Net;

namespace Aio.Tests.Support;

/// <summary>
/// Finds this process's listening TCP sockets by port, for tests that make the kernel fail accepts on demand:
/// shutdown(2) of a listening socket fails its accepts (EINVAL, also the one pending) and listen(2) again revives it,
/// on a new port when it was bound to port 0. Also finds a server's side of a test's connection, whose options a
/// test then reads.
/// </summary>
public static class ListeningSockets
{
    private const int SoAcceptConn = 30;   // SO_ACCEPTCONN, asm-generic/socket.h
    private const int SoDomain = 39;       // SO_DOMAIN

    /// <summary>The fds of this process's IPv4 listening sockets bound to <paramref name="port"/>.</summary>
    public static List<int> OnPort(int port) => Ipv4Sockets().Where(fd =>
        Libc.TryGetSockOptInt(fd, Libc.SOL_SOCKET, SoAcceptConn, out int listening) == 0 && listening == 1
        && SocketEndPoints.Query(fd, Libc.AF_INET, peer: false) is IPEndPoint local && local.Port == port).ToList();

    /// <summary>The fds of this process's IPv4 sockets connected to <paramref name="peer"/> (a server's side of a test's connection).</summary>
    public static List<int> ConnectedTo(IPEndPoint peer) => Ipv4Sockets().Where(fd =>
        SocketEndPoints.Query(fd, Libc.AF_INET, peer: true) is IPEndPoint remote && remote.Equals(peer)).ToList();

    /// <summary>This process's IPv4 socket fds.</summary>
    private static IEnumerable<int> Ipv4Sockets()
    {
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

            if (target is not null && target.StartsWith("socket:", StringComparison.Ordinal)
                && Libc.TryGetSockOptInt(fd, Libc.SOL_SOCKET, SoDomain, out int domain) == 0 && domain == Libc.AF_INET)
            {
                yield return fd;
            }
        }
    }

    /// <summary>listen(2) on <paramref name="fd"/> again; returns the port it listens on now.</summary>
    public static int Relisten(int fd)
    {
        if (Libc.Listen(fd, 512) != 0)
        {
            throw new InvalidOperationException($"listen({fd}) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return ((IPEndPoint)SocketEndPoints.Query(fd, Libc.AF_INET, peer: false)!).Port;
    }

    /// <summary>shutdown(SHUT_RDWR) of a listening socket: its pending and later accepts fail with EINVAL.</summary>
    public static void Stop(int fd)
    {
        if (Libc.Shutdown(fd, Libc.SHUT_RDWR) != 0)
        {
            throw new InvalidOperationException($"shutdown({fd}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }
}
