using System.Net;
using System.Net.Sockets;
using Aio.Net;

namespace Aio.Tests.Support;

/// <summary>Two IoThreads of one monitor kind (a server loop and a client loop) and helpers for socket tests.</summary>
public sealed class NetLoops : IDisposable
{
    public NetLoops(FdMonitorKind kind)
    {
        Kind = kind;
        Server = IoThread.Start("net-server", new AioContextOptions { Monitor = kind });
        Client = IoThread.Start("net-client", new AioContextOptions { Monitor = kind });
    }

    public FdMonitorKind Kind { get; }

    public IoThread Server { get; }

    public IoThread Client { get; }

    public static EndPoint Loopback(bool unix, TempDir? dir = null)
        => unix ? new UnixDomainSocketEndPoint(Path.Combine(dir!.Path, "s" + Guid.NewGuid().ToString("N")[..8])) : new IPEndPoint(IPAddress.Loopback, 0);

    /// <summary>A connected pair: the client's AioSocket on the client loop and the server's accepted one on the server loop.</summary>
    public async Task<(AioSocket Client, AioSocket Server)> ConnectAsync(AioListener listener)
    {
        var accept = listener.AcceptAsync().AsTask();
        var client = await AioSocket.ConnectAsync(Client.Context, listener.LocalEndPoint).Within("the client's connect");
        var server = await accept.WaitAsync(Wait.Default);
        return (client, server);
    }

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
    }

    /// <summary>Open fds of this process.</summary>
    public static int OpenFds() => Directory.GetFiles("/proc/self/fd").Length;

    /// <summary>The open fds and what each names ("socket:[1234]", a path, "anon_inode:[io_uring]"), for failure messages.</summary>
    public static Dictionary<string, string> FdTargets()
    {
        var targets = new Dictionary<string, string>();
        foreach (string fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                targets[Path.GetFileName(fd)] = new FileInfo(fd).LinkTarget ?? "?";
            }
            catch (IOException)
            {
                // Closed between the listing and the look.
            }
        }

        return targets;
    }

    /// <summary>The fds open now that were not in <paramref name="before"/> (or now name something else), described.</summary>
    public static string NewFds(Dictionary<string, string> before)
        => string.Join(", ", FdTargets().Where(kv => !before.TryGetValue(kv.Key, out var t) || t != kv.Value).Select(kv => $"{kv.Key} -> {kv.Value}"));

    /// <summary>Reads exactly <paramref name="buffer"/>.Length bytes, or fails at end of stream.</summary>
    public static async Task ReceiveExactlyAsync(AioSocket socket, Memory<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer[total..]).Within("a receive of the rest of the expected bytes");
            if (n == 0)
            {
                throw new EndOfStreamException($"end of stream after {total} of {buffer.Length} bytes");
            }

            total += n;
        }
    }
}
