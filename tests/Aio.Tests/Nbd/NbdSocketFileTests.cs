using System.Net.Sockets;
using Aio.Nbd;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>
/// What the server does with the file system path of a Unix-domain end point: it replaces a socket an earlier run
/// left behind, deletes its own socket file when it stops, and touches nothing else.
/// </summary>
public sealed class NbdSocketFileTests
{
    [Fact]
    public void A_regular_file_at_the_socket_path_is_neither_replaced_nor_deleted()
    {
        using var dir = new TempDir();
        string image = CreateImage(dir);
        // connect(2) to a path that is not a socket is refused just like a stale socket: the type must decide.
        string notes = Path.Combine(dir.Path, "notes.txt");
        File.WriteAllText(notes, "keep me");

        var ex = Assert.Throws<SocketException>(() => NbdServer.Start(Options(image, new UnixDomainSocketEndPoint(notes))));

        Assert.Equal(SocketError.AddressAlreadyInUse, ex.SocketErrorCode);
        Assert.True(File.Exists(notes), "the server deleted a regular file named as its socket");
        Assert.Equal("keep me", File.ReadAllText(notes));
    }

    [Fact]
    public void A_second_server_on_a_live_socket_fails_and_leaves_the_first_ones_socket_in_place()
    {
        using var first = new NbdTestServer();

        var ex = Assert.Throws<SocketException>(() => NbdServer.Start(Options(first.ImagePath, new UnixDomainSocketEndPoint(first.SocketPath))));

        Assert.Equal(SocketError.AddressAlreadyInUse, ex.SocketErrorCode);
        Assert.True(File.Exists(first.SocketPath), "the failed server deleted the running server's socket");
        using var client = new RawNbdClient(first.SocketPath);
        client.Negotiate(first.Name);
    }

    [Fact]
    public void A_socket_left_by_an_earlier_run_is_replaced_and_the_servers_own_socket_is_deleted_when_it_stops()
    {
        using var dir = new TempDir();
        string image = CreateImage(dir);
        string path = Path.Combine(dir.Path, "nbd.sock");
        using (var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            // Bound and closed without unlinking, what a killed server leaves (.NET's Socket deletes the file it bound
            // when disposed: it is moved aside meanwhile).
            stale.Bind(new UnixDomainSocketEndPoint(path));
            File.Move(path, path + ".aside");
        }

        File.Move(path + ".aside", path);

        Assert.True(File.Exists(path));
        var server = NbdServer.Start(Options(image, new UnixDomainSocketEndPoint(path)));
        try
        {
            using var client = new RawNbdClient(path);
            client.Negotiate();
        }
        finally
        {
            Wait.For(server.DisposeAsync().AsTask(), "the NBD server to stop");
        }

        Assert.False(File.Exists(path), "the server left its socket file behind");
    }

    [Fact]
    public void A_server_still_draining_leaves_alone_the_socket_a_new_server_bound_at_its_path()
    {
        const int MiB = 1 << 20;
        using var dir = new TempDir();
        string image = Path.Combine(dir.Path, "disk.img");
        File.WriteAllBytes(image, new byte[4 * MiB]);
        string path = Path.Combine(dir.Path, "nbd.sock");
        var options = Options(image, new UnixDomainSocketEndPoint(path)) with { MaxBytesInFlight = MiB };
        options = options with { Exports = [options.Exports[0] with { Direct = true }] };
        var first = NbdServer.Start(options);
        using var client = new RawNbdClient(path);
        client.Negotiate();
        // Replies the client does not read hold the first server's drain open.
        client.SendRequest(0, 0, 1, 0, MiB);
        client.SendRequest(0, 0, 2, MiB, MiB);
        Wait.Until(() => first.BudgetWaits >= 1, () => Thread.Sleep(5), "the second READ to wait for room");
        var stopping = first.DisposeAsync().AsTask();
        Wait.Until(() => !File.Exists(path), () => Thread.Sleep(5), "the first server's listener to close and delete its socket");

        var second = NbdServer.Start(options);
        try
        {
            client.ReadSimpleReply(MiB);
            client.ReadSimpleReply(MiB);
            Wait.For(stopping, "the first server to finish its drain");

            Assert.True(File.Exists(path), "the first server deleted the second server's socket at the end of its drain");
            using var next = new RawNbdClient(path);
            next.Negotiate();
        }
        finally
        {
            Wait.For(second.DisposeAsync().AsTask(), "the second server to stop");
        }
    }

    [Fact]
    public void Stopping_a_server_on_an_abstract_address_deletes_no_file_named_like_it()
    {
        using var dir = new TempDir();
        string image = CreateImage(dir);
        // UnixDomainSocketEndPoint.ToString renders "\0name" as "@name", a legal relative file name.
        string name = "aio-nbd-abstract-" + Guid.NewGuid().ToString("N");
        string lookalike = Path.GetFullPath("@" + name);
        File.WriteAllText(lookalike, "keep me");
        try
        {
            var endPoint = new UnixDomainSocketEndPoint("\0" + name);
            var server = NbdServer.Start(Options(image, endPoint));
            try
            {
                using var client = new RawNbdClient(endPoint);
                client.Negotiate();
            }
            finally
            {
                Wait.For(server.DisposeAsync().AsTask(), "the NBD server to stop");
            }

            Assert.True(File.Exists(lookalike), "stopping the server deleted ./@name");
        }
        finally
        {
            File.Delete(lookalike);
        }
    }

    [Fact]
    public void A_handshake_timeout_beyond_what_a_cancellation_timer_can_hold_is_refused_at_start()
    {
        using var dir = new TempDir();
        string image = CreateImage(dir);
        var options = Options(image, new UnixDomainSocketEndPoint(Path.Combine(dir.Path, "s.sock"))) with { HandshakeTimeout = TimeSpan.FromDays(50) };

        Assert.Throws<ArgumentOutOfRangeException>(() => NbdServer.Start(options));
        Assert.False(File.Exists(Path.Combine(dir.Path, "s.sock")), "a refused start bound its socket");
    }

    private static string CreateImage(TempDir dir)
    {
        string image = Path.Combine(dir.Path, "disk.img");
        using var f = File.Create(image);
        f.SetLength(1 << 20);
        return image;
    }

    private static NbdServerOptions Options(string image, System.Net.EndPoint listen) => new()
    {
        Exports = [new NbdExportOptions { Path = image, Name = "", Direct = false }],
        Listen = [listen],
        Threads = 1,
    };
}
