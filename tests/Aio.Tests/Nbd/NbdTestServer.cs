using System.Collections.Concurrent;
using System.Net.Sockets;
using Aio.Nbd;
using Aio.Tests.Support;

namespace Aio.Tests.Nbd;

/// <summary>An <see cref="NbdServer"/> in the test process serving a scratch file over a Unix socket.</summary>
public sealed class NbdTestServer : IDisposable
{
    private readonly TempDir _dir = new();

    public NbdTestServer(long size = 16 << 20, bool readOnly = false, bool direct = true, bool random = false, Func<NbdServerOptions, NbdServerOptions>? configure = null, string name = "")
    {
        ImagePath = Path.Combine(_dir.Path, "disk.img");
        using (var f = File.Create(ImagePath))
        {
            f.SetLength(size);
            if (random)
            {
                var bytes = new byte[size];
                new Random(7).NextBytes(bytes);
                f.Write(bytes);
            }
        }

        SocketPath = Path.Combine(_dir.Path, "nbd.sock");
        Name = name;
        var options = new NbdServerOptions
        {
            Exports = [new NbdExportOptions { Path = ImagePath, Name = name, ReadOnly = readOnly, Direct = direct, Description = "test disk" }],
            Listen = [new UnixDomainSocketEndPoint(SocketPath)],
            Threads = 2,
            Log = LogLines.Enqueue,
        };
        Options = configure is null ? options : configure(options);
        Server = NbdServer.Start(Options);
    }

    public NbdServer Server { get; }

    /// <summary>What this server logged (its <see cref="NbdServerOptions.Log"/>, unless <c>configure</c> replaced it).</summary>
    public ConcurrentQueue<string> LogLines { get; } = new();

    public NbdServerOptions Options { get; }

    public string ImagePath { get; }

    public string SocketPath { get; }

    public string Name { get; }

    public string Dir => _dir.Path;

    public string Uri => $"nbd+unix:///{Name}?socket={SocketPath}";

    /// <summary>The same export as QEMU's own syntax spells it (for qemu-img/qemu-io image arguments).</summary>
    public string QemuUri => Uri;

    /// <summary>A TCP client connected to 127.0.0.1:<paramref name="port"/> that has read the server's greeting (so it was accepted).</summary>
    public static Socket ConnectOverTcp(int port)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 20_000 };
        try
        {
            client.Connect(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port));
            var greeting = new byte[8];
            using (var stream = new NetworkStream(client, ownsSocket: false))
            {
                stream.ReadExactly(greeting);
            }

            Xunit.Assert.Equal("NBDMAGIC"u8.ToArray(), greeting);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Wait.For(Server.DisposeAsync().AsTask(), "the NBD server to stop");
        _dir.Dispose();
    }
}
