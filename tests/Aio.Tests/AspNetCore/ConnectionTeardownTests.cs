using System.Net;
using System.Net.Sockets;
using Aio.AspNetCore;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// How a connection ends in Loop mode when the end comes from the loop itself: an Abort called there does not run
/// Kestrel's code nested inside it, and a loop stopped under a live connection resets it rather than ending the stream.
/// </summary>
public sealed class ConnectionTeardownTests
{
    private static ServiceProvider LoopModeFactory() => new ServiceCollection()
        .AddLogging()
        .AddAioConnectionFactory(o =>
        {
            o.LoopCount = 1;
            o.Scheduling = AioSchedulingMode.Loop;
        })
        .BuildServiceProvider();

    private static Socket Listen()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        return listener;
    }

    [IoUringFact]
    public async Task An_Abort_on_the_loop_does_not_run_the_readers_continuation_inside_it()
    {
        using var listener = Listen();
        await using var services = LoopModeFactory();
        var factory = services.GetRequiredService<IConnectionFactory>();
        var connection = await factory.ConnectAsync(listener.LocalEndPoint!).AsTask().WaitAsync(Wait.Default);
        using var peer = listener.Accept();
        var loop = ((AioConnection)connection).Loop;

        bool insideAbort = false;
        bool? ranInsideAbort = null;
        var continued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await loop.InvokeAsync(() =>
        {
            // A read Kestrel's side is waiting on (the peer sends nothing), then Abort from the loop, as Kestrel's
            // code running there calls it (holding its own locks).
            var read = connection.Transport.Input.ReadAsync();
            read.GetAwaiter().OnCompleted(() =>
            {
                ranInsideAbort = insideAbort;
                continued.TrySetResult();
            });
            insideAbort = true;
            connection.Abort();
            insideAbort = false;
            return Task.CompletedTask;
        }).WaitAsync(Wait.Default);

        await continued.Task.WaitAsync(Wait.Default);
        Assert.False(ranInsideAbort, "the reader's continuation ran nested inside Abort");

        // And the abort still resets the connection.
        peer.ReceiveTimeout = (int)Wait.Default.TotalMilliseconds;
        var reset = Assert.Throws<SocketException>(() => peer.Receive(new byte[1]));
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        await connection.DisposeAsync().AsTask().WaitAsync(Wait.Default);
    }

    [IoUringFact]
    public async Task A_loop_stopped_under_a_live_connection_resets_it()
    {
        using var listener = Listen();
        var services = LoopModeFactory();
        var factory = services.GetRequiredService<IConnectionFactory>();
        var connection = await factory.ConnectAsync(listener.LocalEndPoint!).AsTask().WaitAsync(Wait.Default);
        using var peer = listener.Accept();

        // The factory's loops stop (its container is disposed) with the connection open: an end of stream would let
        // the peer take a cut-short exchange for a complete one.
        await services.DisposeAsync().AsTask().WaitAsync(Wait.Default);
        peer.ReceiveTimeout = (int)Wait.Default.TotalMilliseconds;
        var reset = Assert.Throws<SocketException>(() => peer.Receive(new byte[1]));
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        await connection.DisposeAsync().AsTask().WaitAsync(Wait.Default);
    }
}
