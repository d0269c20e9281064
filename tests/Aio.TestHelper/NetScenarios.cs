using System.Net;
using System.Net.Sockets;
using Aio.Net;

namespace Aio.TestHelper;

/// <summary>Sockets in a process where io_uring_setup is refused: the same API on fd handlers.</summary>
internal static class NetScenarios
{
    public static void FallbackEcho()
    {
        using var server = IoThread.Start("net-fallback-server");
        using var client = IoThread.Start("net-fallback-client");
        Report.Check(!server.Context.HasIoUring && !client.Context.HasIoUring, "the contexts fell back from io_uring", $"server {server.Context.Monitor}, client {client.Context.Monitor}");
        Run(server.Context, client.Context).GetAwaiter().GetResult();
    }

    private static async Task Run(AioContext serverLoop, AioContext clientLoop)
    {
        var timeout = TimeSpan.FromSeconds(10);
        await using var listener = AioListener.Bind(serverLoop, new IPEndPoint(IPAddress.Loopback, 0));
        var accept = listener.AcceptAsync().AsTask();
        await using var client = await AioSocket.ConnectAsync(clientLoop, listener.LocalEndPoint).AsTask().WaitAsync(timeout);
        await using var peer = await accept.WaitAsync(timeout);

        var message = new byte[100_000];
        new Random(1).NextBytes(message);
        var echoed = new byte[message.Length];
        var echo = Task.Run(async () =>
        {
            var buffer = new byte[8192];
            int n;
            while ((n = await peer.ReceiveAsync(buffer)) > 0)
            {
                await peer.SendAsync(buffer.AsMemory(0, n));
            }
        });
        var sending = client.SendAsync(message).AsTask();
        int got = 0;
        while (got < echoed.Length)
        {
            got += await client.ReceiveAsync(echoed.AsMemory(got)).AsTask().WaitAsync(timeout);
        }

        await sending.WaitAsync(timeout);
        Report.Check(message.AsSpan().SequenceEqual(echoed), "100,000 bytes echoed intact over the fallback", "the echoed bytes differ");

        using var cts = new CancellationTokenSource();
        var pending = client.ReceiveAsync(new byte[16], cts.Token).AsTask();
        cts.Cancel();
        try
        {
            await pending.WaitAsync(timeout);
            Report.Fail("a cancelled receive with no data completed");
        }
        catch (OperationCanceledException)
        {
            Report.Ok("a pending receive was cancelled");
        }

        client.Shutdown(SocketShutdown.Send);
        await echo.WaitAsync(timeout);
        Report.Ok("the peer saw the end of the stream");
    }
}
