using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace Aio.Nbd;

/// <summary>What an <see cref="NbdServer"/> serves and how.</summary>
public sealed record NbdServerOptions
{
    /// <summary>The exports (at least one; names unique).</summary>
    public required IReadOnlyList<NbdExportOptions> Exports { get; init; }

    /// <summary>Where to listen: IP end points (port 0 = any free port) or Unix socket paths.</summary>
    public IReadOnlyList<EndPoint> Listen { get; init; } = [new IPEndPoint(IPAddress.Loopback, 10809)];

    /// <summary>Loops serving connections; 0 = <see cref="Environment.ProcessorCount"/>; at most 1024.</summary>
    public int Threads { get; init; }

    /// <summary>Connections served at once; one more is closed before its handshake.</summary>
    public int MaxConnections { get; init; } = 100;

    /// <summary>A client that has not finished its handshake after this long is dropped; at most 2^32 - 2 ms (about 49.7 days).</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The server certificate (with its private key) for STARTTLS, or null for no TLS.</summary>
    public X509Certificate2? TlsCertificate { get; init; }

    /// <summary>
    /// The intermediate CAs between <see cref="TlsCertificate"/> and the root its clients trust. The chain is built
    /// from these and the machine's certificate stores (nothing is fetched over the network), and every handshake
    /// sends the intermediates on it, not the root. Null: the stores alone.
    /// </summary>
    public X509Certificate2Collection? TlsCertificateChain { get; init; }

    /// <summary>With a certificate: refuse every option but STARTTLS and ABORT before TLS.</summary>
    public bool TlsRequired { get; init; }

    /// <summary>Options of the loops (null: the defaults, io_uring where the kernel allows it).</summary>
    public AioContextOptions? LoopOptions { get; init; }

    /// <summary>
    /// The loops' busy-poll ceiling in nanoseconds (QEMU's poll-max-ns), set before the server listens; 0: the loops
    /// never busy-poll (a wake-up per request, less CPU); null: the loops' default
    /// (<see cref="IoThread.DefaultPollMaxNs"/>, or <see cref="LoopOptions"/>' own <c>PollMaxNs</c> when it is not 0,
    /// which cannot say "off"). <see cref="LoopOptions"/>' <c>PollGrow</c> and <c>PollShrink</c> apply either way.
    /// </summary>
    public long? PollMaxNs { get; init; }

    /// <summary>Requests executed at once per connection (the receive loop waits beyond it).</summary>
    public int MaxRequestsInFlight { get; init; } = 128;

    /// <summary>
    /// Buffer bytes per connection (payloads and data of requests executing, a piece per WRITE_ZEROES executing, replies not yet sent) beyond which the
    /// receive loop waits; a request larger than this still runs, alone. Default 64 MiB.
    /// </summary>
    public long MaxBytesInFlight { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// Where this server writes one line per notable event (a failed accept, a client dropped for a protocol violation
    /// or a handshake timeout); null: <see cref="NbdServer.Logger"/>, the process-wide default. Called on the loops and
    /// the thread pool; it must not block.
    /// </summary>
    public Action<string>? Log { get; init; }
}
