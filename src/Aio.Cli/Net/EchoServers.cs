using System.Net;
using System.Net.Sockets;
using Aio.Net;

namespace Aio.Cli.Net;

/// <summary>
/// The two servers <c>aio bench net</c> compares: the same echo written on Aio's loops, and idiomatically on
/// System.Net.Sockets (async/await on <see cref="Socket.ReceiveAsync(Memory{byte}, SocketFlags, CancellationToken)"/>
/// and <see cref="Socket.SendAsync(ReadOnlyMemory{byte}, SocketFlags, CancellationToken)"/>).
/// </summary>
internal static class EchoServers
{
    /// <summary>Serves until <paramref name="stop"/> fires; prints "ready PORT" when listening.</summary>
    public static int Run(string implementation, int loops, int port, CancellationToken stop)
    {
        return implementation switch
        {
            "aio" => RunAio(loops, port, stop),
            "sockets" => RunSockets(port, stop),
            _ => throw new UsageException($"unknown server '{implementation}' (aio or sockets)"),
        };
    }

    private static int RunAio(int loops, int port, CancellationToken stop)
    {
        using var group = IoThreadGroup.Start("echo", loops);
        var acceptLoop = group.Threads[0].Context;
        // Both servers turn Nagle off (as Kestrel does): an echo that answers in pieces would otherwise wait for the
        // client's delayed ACK. Here on the listener: every accepted connection inherits it.
        var listener = AioListener.Bind(acceptLoop, new IPEndPoint(IPAddress.Loopback, port), backlog: 512, reusePort: false, noDelay: true);
        Console.WriteLine("ready " + ((IPEndPoint)listener.LocalEndPoint).Port);
        var accepting = acceptLoop.InvokeAsync(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var target = group.Next().Context;
                AioSocket socket;
                try
                {
                    socket = await listener.AcceptAsync(target);
                }
                catch (ObjectDisposedException)
                {
                    return;
                }

                // The echo runs on the connection's own loop: its awaits resume inline there.
                _ = target.InvokeAsync(() => EchoAsync(socket));
            }
        });
        stop.WaitHandle.WaitOne();
        listener.Dispose();
        accepting.Wait(TimeSpan.FromSeconds(5));
        return 0;

        static async Task EchoAsync(AioSocket socket)
        {
            var buffer = GC.AllocateUninitializedArray<byte>(64 * 1024, pinned: true);
            try
            {
                while (true)
                {
                    int n = await socket.ReceiveAsync(buffer);
                    if (n == 0)
                    {
                        break;
                    }

                    await socket.SendAsync(buffer.AsMemory(0, n));
                }
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
            finally
            {
                await socket.DisposeAsync();
            }
        }
    }

    private static int RunSockets(int port, CancellationToken stop)
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(512);
        Console.WriteLine("ready " + ((IPEndPoint)listener.LocalEndPoint!).Port);
        var accepting = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await listener.AcceptAsync(stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                socket.NoDelay = true;
                _ = EchoAsync(socket);
            }
        });
        stop.WaitHandle.WaitOne();
        listener.Close();
        accepting.Wait(TimeSpan.FromSeconds(5));
        return 0;

        static async Task EchoAsync(Socket socket)
        {
            var buffer = GC.AllocateUninitializedArray<byte>(64 * 1024, pinned: true);
            try
            {
                while (true)
                {
                    int n = await socket.ReceiveAsync(buffer, SocketFlags.None);
                    if (n == 0)
                    {
                        break;
                    }

                    await socket.SendAsync(buffer.AsMemory(0, n), SocketFlags.None);
                }
            }
            catch (SocketException)
            {
            }
            finally
            {
                socket.Dispose();
            }
        }
    }
}
