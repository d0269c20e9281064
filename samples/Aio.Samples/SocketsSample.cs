using System.Net;
using System.Net.Sockets;
using Aio;
using Aio.Net;

namespace AioSamples;

/// <summary>A TCP echo server and its client on loopback, both on Aio's loops (<see cref="AioListener"/>, <see cref="AioSocket"/>).</summary>
internal static class SocketsSample
{
    public static async Task RunAsync()
    {
        await using var loops = IoThreadGroup.Start("echo", 2);
        await using var listener = AioListener.Bind(loops.Threads[0].Context, new IPEndPoint(IPAddress.Loopback, 0));
        Task server = ServeOneAsync(listener, loops.Next().Context);

        await using var client = await AioSocket.ConnectAsync(loops.Next().Context, listener.LocalEndPoint);
        await client.SendAsync("ping"u8.ToArray());
        client.Shutdown(SocketShutdown.Send);                    // the server sees 0 once it has read "ping"
        var reply = new byte[16];
        int total = 0;
        int n;
        while ((n = await client.ReceiveAsync(reply.AsMemory(total))) > 0)
        {
            total += n;
        }

        await server;
        Console.WriteLine($"sockets: echoed '{System.Text.Encoding.ASCII.GetString(reply, 0, total)}'");
    }

    private static async Task ServeOneAsync(AioListener listener, AioContext target)
    {
        await using var socket = await listener.AcceptAsync(target);   // this connection lives on target's loop
        var buffer = new byte[4096];
        int n;
        while ((n = await socket.ReceiveAsync(buffer)) > 0)           // 0: the peer shut down its side
        {
            await socket.SendAsync(buffer.AsMemory(0, n));            // all bytes, or a SocketException
        }
    }
}
