using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Aio.AspNetCore;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>The transport as Kestrel drives it, without Kestrel: listener, connection, FIN/RST, ConnectionClosed, dispose.</summary>
public sealed class TransportTests
{
    private static AioTransportFactory CreateFactory(AioSchedulingMode mode, AioContextOptions? context = null) =>
        new(Options.Create(new AioTransportOptions { LoopCount = 2, Scheduling = mode, ContextOptions = context }), NullLoggerFactory.Instance, new TestMemoryPoolFactory());

    private static async Task<(ConnectionContext Server, Socket Client)> ConnectAsync(IConnectionListener listener)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.EndPoint).WaitAsync(TimeSpan.FromSeconds(10));
        var server = await listener.AcceptAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        return (server!, client);
    }

    public static TheoryData<AioSchedulingMode> Modes => new() { AioSchedulingMode.ThreadPool, AioSchedulingMode.Loop };

    [IoUringTheory]
    [MemberData(nameof(Modes))]
    public async Task Data_flows_both_ways_and_a_graceful_end_sends_FIN(AioSchedulingMode mode)
    {
        await using var factory = CreateFactory(mode);
        Assert.True(factory.CanBind(new IPEndPoint(IPAddress.Loopback, 0)));
        await using var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        Assert.NotEqual(0, ((IPEndPoint)listener.EndPoint).Port);
        var (server, client) = await ConnectAsync(listener);
        using var _ = client;
        Assert.NotNull(server.Features.Get<IConnectionSocketFeature>());
        Assert.Equal(client.LocalEndPoint, server.RemoteEndPoint);
        Assert.Equal(client.RemoteEndPoint, server.LocalEndPoint);
        Assert.Same(server, server.Features.Get<IConnectionEndPointFeature>());
        Assert.NotNull(server.Features.Get<IMemoryPoolFeature>()?.MemoryPool);

        await client.SendAsync("ping"u8.ToArray(), SocketFlags.None).Within("the client's send");
        var read = await server.Transport.Input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("ping", Encoding.ASCII.GetString(System.Buffers.BuffersExtensions.ToArray(read.Buffer)));
        server.Transport.Input.AdvanceTo(read.Buffer.End);
        await server.Transport.Output.WriteAsync("pong"u8.ToArray()).Within("the server's write");

        // Completing the output gracefully: the data, then a FIN (0), not a reset.
        await server.Transport.Output.CompleteAsync();
        var buffer = new byte[16];
        int n = await client.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("pong", Encoding.ASCII.GetString(buffer, 0, n));
        Assert.Equal(0, await client.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10)));
        await server.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [IoUringTheory]
    [MemberData(nameof(Modes))]
    public async Task Abort_resets_the_connection(AioSchedulingMode mode)
    {
        await using var factory = CreateFactory(mode);
        await using var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var (server, client) = await ConnectAsync(listener);
        using var _ = client;
        server.Abort(new ConnectionAbortedException("test"));
        var error = await Assert.ThrowsAsync<SocketException>(() => client.ReceiveAsync(new byte[16], SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
        await server.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [IoUringTheory]
    [MemberData(nameof(Modes))]
    public async Task ConnectionClosed_fires_off_the_loop_when_the_peer_closes_though_nobody_reads(AioSchedulingMode mode)
    {
        await using var factory = CreateFactory(mode);
        await using var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var (server, client) = await ConnectAsync(listener);
        var fired = new TaskCompletionSource<AioContext?>(TaskCreationOptions.RunContinuationsAsynchronously);
        server.ConnectionClosed.Register(() => fired.TrySetResult(AioContext.Current));
        client.Close();
        var onLoop = await fired.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Null(onLoop);
        await server.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [IoUringTheory]
    [MemberData(nameof(Modes))]
    public async Task DisposeAsync_returns_only_after_the_ConnectionClosed_callbacks_ran(AioSchedulingMode mode)
    {
        await using var factory = CreateFactory(mode);
        await using var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var (server, client) = await ConnectAsync(listener);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var gate = new ManualResetEventSlim();
        server.ConnectionClosed.Register(() =>
        {
            entered.TrySetResult();
            gate.Wait(TimeSpan.FromSeconds(30));
        });
        client.Close();
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // As with Sockets: the connection is not gone while its ConnectionClosed callbacks still run.
        var dispose = server.DisposeAsync().AsTask();
        // A bounded negative check, awaited rather than blocked on: the callback holds one pool thread already.
        Assert.NotSame(dispose, await Task.WhenAny(dispose, Task.Delay(TimeSpan.FromMilliseconds(500))));
        gate.Set();
        await dispose.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [IoUringTheory]
    [MemberData(nameof(Modes))]
    public async Task Abort_while_the_input_is_paused_fires_ConnectionClosed_before_dispose(AioSchedulingMode mode)
    {
        // Nobody reads the input, so past the pause threshold (1 MiB) the receive side waits for Kestrel to read, not
        // for the socket: an abort must end that wait too, so ConnectionClosed fires without waiting for DisposeAsync.
        await using var factory = CreateFactory(mode);
        await using var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var (server, client) = await ConnectAsync(listener);
        using var _ = client;
        var sending = client.SendAsync(new byte[4 << 20], SocketFlags.None);
        Wait.Until(
            () =>
            {
                bool read = server.Transport.Input.TryRead(out var result);
                long buffered = read ? result.Buffer.Length : 0;
                if (read)
                {
                    server.Transport.Input.AdvanceTo(result.Buffer.Start);
                }

                return buffered >= 1 << 20;
            },
            () => Thread.Sleep(5),
            "the input to fill to its pause threshold");

        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.ConnectionClosed.Register(() => closed.TrySetResult());
        server.Abort(new ConnectionAbortedException("test"));
        await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var sent = await Record.ExceptionAsync(() => sending.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(sent is null or SocketException, $"the client's send ended with {sent}");
        await server.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [IoUringTheory]
    [MemberData(nameof(Modes))]
    public async Task DisposeAsync_completes_the_connections_own_pipes_though_middleware_replaced_Transport(AioSchedulingMode mode)
    {
        // Connection middleware may wrap Transport and not put it back: DisposeAsync completes the pipes the connection
        // made (so its pumps end and it returns), not whatever Transport is now.
        await using var factory = CreateFactory(mode);
        await using var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var (server, client) = await ConnectAsync(listener);
        using var _ = client;
        var replacement = new Pipe();
        server.Transport = new ReplacedTransport(replacement.Reader, replacement.Writer);
        await server.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, await client.ReceiveAsync(new byte[16], SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [IoUringFact]
    public async Task AcceptAsync_returns_null_after_unbind_and_a_pending_accept_ends_with_null()
    {
        await using var factory = CreateFactory(AioSchedulingMode.ThreadPool);
        var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var pending = listener.AcceptAsync().AsTask();
        await listener.UnbindAsync();
        Assert.Null(await pending.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Null(await listener.AcceptAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task Without_io_uring_CanBind_is_false_and_nothing_is_bound()
    {
        await using var factory = CreateFactory(AioSchedulingMode.ThreadPool, new AioContextOptions { SimulatedIoUringErrno = 1 });
        Assert.False(factory.CanBind(new IPEndPoint(IPAddress.Loopback, 0)));
        Assert.False(factory.CanBind(new UnixDomainSocketEndPoint("/tmp/x")));
    }

    [IoUringFact]
    public async Task With_a_ring_lacking_the_socket_operations_CanBind_is_false()
    {
        // An older kernel (io_uring, but no RECV before 5.6): Sockets serves rather than the readiness path.
        await using var factory = CreateFactory(AioSchedulingMode.ThreadPool, new AioContextOptions { SimulatedMissingOpcodes = [IoUringOpcode.Recv] });
        Assert.False(factory.CanBind(new IPEndPoint(IPAddress.Loopback, 0)));
    }

    [IoUringFact]
    public async Task A_file_handle_end_point_is_left_to_Sockets()
    {
        await using var factory = CreateFactory(AioSchedulingMode.ThreadPool);
        Assert.False(factory.CanBind(new FileHandleEndPoint(3, FileHandleType.Tcp)));
        Assert.True(factory.CanBind(new UnixDomainSocketEndPoint("/tmp/x")));
    }

    [IoUringFact]
    public async Task DisposeAsync_of_a_connection_with_a_pending_send_to_a_reader_that_never_reads_returns()
    {
        await using var factory = CreateFactory(AioSchedulingMode.Loop);
        await using var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var (server, client) = await ConnectAsync(listener);
        using var _ = client;

        // Fill the socket buffers: a send stays in flight in the kernel.
        var chunk = new byte[1024 * 1024];
        bool pending = false;
        for (int i = 0; i < 16 && !pending; i++)
        {
            pending = !server.Transport.Output.WriteAsync(chunk).IsCompleted;
        }

        Assert.True(pending, "16 MiB went out with nobody reading: no send was left in flight to abort");
        server.Abort();
        await server.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    private sealed record ReplacedTransport(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
