using Aio.Tests.Support;
using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Aio.Nbd;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>STARTTLS with X.509: real clients over TLS, TLS-required refusals, and negotiation forgotten after STARTTLS.</summary>
public class NbdTlsTests
{
    [NbdToolFact("nbdinfo")]
    public void Nbdinfo_connects_over_TLS_and_a_plain_client_is_refused_when_TLS_is_required()
    {
        using var certs = new TempDir();
        string certDir = certs.Path;
        var cert = TlsCertificates.Create(certDir);
        using var server = new NbdTestServer(configure: o => o with { TlsCertificate = cert, TlsRequired = true });
        string tlsUri = $"nbds+unix:///?socket={server.SocketPath}&tls-certificates={certDir}";
        string info = NbdTools.Check("nbdinfo", tlsUri);
        Assert.Contains("with TLS", info, StringComparison.Ordinal);
        var (code, _, _) = NbdTools.Run("nbdinfo", server.Uri);
        Assert.NotEqual(0, code);
    }

    [NbdToolFact("qemu-io")]
    public void Qemu_io_writes_and_verifies_over_TLS_with_tls_creds_x509()
    {
        using var certs = new TempDir();
        string certDir = certs.Path;
        var cert = TlsCertificates.Create(certDir);
        using var server = new NbdTestServer(configure: o => o with { TlsCertificate = cert, TlsRequired = true, Listen = [new IPEndPoint(IPAddress.Loopback, 0)] });
        int port = ((IPEndPoint)server.Server.EndPoints[0]).Port;
        NbdTools.Check("qemu-io", "--object", $"tls-creds-x509,id=tls0,endpoint=client,dir={certDir}",
            "--image-opts", $"driver=nbd,host=127.0.0.1,port={port},tls-creds=tls0",
            "-c", "write -P 0x3c 4096 64k", "-c", "read -P 0x3c 4096 64k", "-c", "write -z 1M 64k", "-c", "read -P 0 1M 64k", "-c", "flush");
    }

    [NbdToolFact("qemu-io")]
    public void A_page_cache_export_over_TLS_reads_through_the_ring_not_the_mapping()
    {
        // TLS encrypts in user space: a slice of the mapping would be read by the server's own code (SIGBUS if the
        // file shrank under it), so TLS connections never answer from the view.
        using var certs = new TempDir();
        string certDir = certs.Path;
        var cert = TlsCertificates.Create(certDir);
        using var server = new NbdTestServer(direct: false, configure: o => o with { TlsCertificate = cert, TlsRequired = true, Listen = [new IPEndPoint(IPAddress.Loopback, 0)] });
        int port = ((IPEndPoint)server.Server.EndPoints[0]).Port;
        NbdTools.Check("qemu-io", "--object", $"tls-creds-x509,id=tls0,endpoint=client,dir={certDir}",
            "--image-opts", $"driver=nbd,host=127.0.0.1,port={port},tls-creds=tls0",
            "-c", "write -P 0x5a 8192 256k", "-c", "read -P 0x5a 8192 256k", "-c", "read -P 0 0 8192");
        Wait.Until(() => server.Server.ConnectionCount == 0, () => Thread.Sleep(5), "the connection to close");
        Assert.Equal(0, server.Server.ReadsFromView);
    }

    [Fact]
    public void The_certificate_chain_is_built_when_the_server_starts_and_every_handshake_presents_it()
    {
        // Left to the first handshake (SslStream's way with a bare certificate), OpenSSL's set-up and the chain's
        // search of the trust store ran on that client's loop: ~80 ms, 200+ ms on a busy machine, during which every
        // other client of the loop waited (a LoopStalled warning on the first TLS client of `aio nbd serve`).
        using var certs = new TempDir();
        var cert = TlsCertificates.Create(certs.Path);
        using var server = new NbdTestServer(configure: o => o with { TlsCertificate = cert, TlsRequired = true });
        Assert.NotNull(server.Server.TlsContext);
        Assert.Equal(cert.Thumbprint, server.Server.TlsContext!.TargetCertificate.Thumbprint);

        for (int i = 0; i < 2; i++)
        {
            using var c = new RawNbdClient(server.SocketPath);
            c.Hello();
            c.SendOption(5, []);
            Assert.Equal(1u, c.ReadOptionReply().Type);
            using var tls = new SslStream(new NetworkStream(c.Socket, ownsSocket: false), false, (_, _, _, _) => true);
            tls.AuthenticateAsClient("localhost");
            Assert.Equal(cert.Thumbprint, new System.Security.Cryptography.X509Certificates.X509Certificate2(tls.RemoteCertificate!).Thumbprint);
        }

        using var plain = new NbdTestServer();
        Assert.Null(plain.Server.TlsContext);
    }

    [NbdToolFact("nbdinfo")]
    public void A_client_that_trusts_only_the_root_verifies_the_server_through_the_intermediates_of_TlsCertificateChain()
    {
        using var certs = new TempDir();
        var (cert, intermediate) = TlsCertificates.CreateChain(certs.Path);
        // Over TCP: libnbd verifies the peer against the URI's host name, and a Unix socket has none (it skips it).
        using (var server = new NbdTestServer(configure: o => o with { TlsCertificate = cert, TlsCertificateChain = [intermediate], TlsRequired = true, Listen = [new IPEndPoint(IPAddress.Loopback, 0)] }))
        {
            int port = ((IPEndPoint)server.Server.EndPoints[0]).Port;
            string info = NbdTools.Check("nbdinfo", $"nbds://localhost:{port}/?tls-certificates={certs.Path}");
            Assert.Contains("with TLS", info, StringComparison.Ordinal);
        }

        // The control: without the intermediate the client cannot reach its root.
        using (var server = new NbdTestServer(configure: o => o with { TlsCertificate = cert, TlsRequired = true, Listen = [new IPEndPoint(IPAddress.Loopback, 0)] }))
        {
            int port = ((IPEndPoint)server.Server.EndPoints[0]).Port;
            var (code, _, stderr) = NbdTools.Run("nbdinfo", $"nbds://localhost:{port}/?tls-certificates={certs.Path}");
            Assert.True(code != 0, "nbdinfo verified a server that sent no intermediate: the test's chain proves nothing");
            Assert.Contains("certificate", stderr, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void The_handshake_sends_the_intermediates_a_client_trusting_only_the_root_needs()
    {
        using var certs = new TempDir();
        var (cert, intermediate) = TlsCertificates.CreateChain(certs.Path);
        var root = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(certs.Path, "ca-cert.pem")));
        using (var server = new NbdTestServer(configure: o => o with { TlsCertificate = cert, TlsCertificateChain = [intermediate], TlsRequired = true }))
        {
            Assert.Equal(SslPolicyErrors.None, HandshakeTrustingOnly(server, root));
        }

        // The control: sent alone, the certificate does not lead the client to its root.
        using (var server = new NbdTestServer(configure: o => o with { TlsCertificate = cert, TlsRequired = true }))
        {
            Assert.Equal(SslPolicyErrors.RemoteCertificateChainErrors, HandshakeTrustingOnly(server, root));
        }
    }

    [Fact]
    public void A_certificate_whose_issuer_is_found_nowhere_is_logged_at_start()
    {
        using var certs = new TempDir();
        var (cert, intermediate) = TlsCertificates.CreateChain(certs.Path);
        var selfSigned = TlsCertificates.Create(certs.Path);
        foreach (var (certificate, chain, expected) in new[] { (cert, (System.Security.Cryptography.X509Certificates.X509Certificate2Collection?)null, true), (cert, [intermediate], false), (selfSigned, null, false) })
        {
            var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
            using (new NbdTestServer(configure: o => o with { TlsCertificate = certificate, TlsCertificateChain = chain, Log = log.Enqueue }))
            {
                // Logged by Start itself: there is nothing to wait for.
                Assert.True(
                    expected == log.Any(line => line.Contains("goes out alone", StringComparison.Ordinal)),
                    $"chain {(chain is null ? "none" : "given")}, self-signed {certificate == selfSigned}: expected the warning {expected}; log: {string.Join(" | ", log)}");
            }
        }
    }

    /// <summary>STARTTLS and a handshake whose only trusted root is <paramref name="root"/>; the policy errors the client saw.</summary>
    private static SslPolicyErrors HandshakeTrustingOnly(NbdTestServer server, System.Security.Cryptography.X509Certificates.X509Certificate2 root)
    {
        using var c = new RawNbdClient(server.SocketPath);
        c.Hello();
        c.SendOption(5, []);
        Assert.Equal(1u, c.ReadOptionReply().Type);
        var policy = new System.Security.Cryptography.X509Certificates.X509ChainPolicy
        {
            TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust,
            RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        policy.CustomTrustStore.Add(root);
        var seen = SslPolicyErrors.None;
        using var tls = new SslStream(new NetworkStream(c.Socket, ownsSocket: false), false, (_, _, _, errors) =>
        {
            seen = errors;
            return true;
        });
        tls.AuthenticateAsClient(new SslClientAuthenticationOptions { TargetHost = "localhost", CertificateChainPolicy = policy });
        return seen;
    }

    [Fact]
    public void A_certificate_whose_key_TLS_cannot_use_is_refused_before_anything_listens()
    {
        // A DSA key (signed here by an RSA issuer: .NET self-signs only RSA and ECDSA): SslStream serves neither it nor,
        // before, said so until the first handshake failed.
        using var dir = new TempDir();
        using var issuerKey = System.Security.Cryptography.RSA.Create(2048);
        using var dsa = System.Security.Cryptography.DSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest(
            new System.Security.Cryptography.X509Certificates.X500DistinguishedName("CN=localhost"),
            new System.Security.Cryptography.X509Certificates.PublicKey((System.Security.Cryptography.AsymmetricAlgorithm)dsa),
            System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var unsigned = request.Create(
            new System.Security.Cryptography.X509Certificates.X500DistinguishedName("CN=Aio test issuer"),
            System.Security.Cryptography.X509Certificates.X509SignatureGenerator.CreateForRSA(issuerKey, System.Security.Cryptography.RSASignaturePadding.Pkcs1),
            DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), [3]);
        using var certificate = System.Security.Cryptography.X509Certificates.DSACertificateExtensions.CopyWithPrivateKey(unsigned, dsa);
        var (image, _) = dir.CreateFile("disk.img", 1 << 20);
        string socket = Path.Combine(dir.Path, "s.sock");
        var options = new NbdServerOptions
        {
            Exports = [new NbdExportOptions { Path = image }],
            Listen = [new UnixDomainSocketEndPoint(socket)],
            TlsCertificate = certificate,
        };

        var ex = Assert.Throws<ArgumentException>(() => NbdServer.Start(options));
        Assert.Contains("cannot be served", ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(socket), "a refused start bound its socket");
    }

    [Fact]
    public void A_certificate_chain_without_a_certificate_is_refused_before_anything_listens()
    {
        using var dir = new TempDir();
        var (_, intermediate) = TlsCertificates.CreateChain(dir.Path);
        var (image, _) = dir.CreateFile("disk.img", 1 << 20);
        string socket = Path.Combine(dir.Path, "s.sock");
        var options = new NbdServerOptions
        {
            Exports = [new NbdExportOptions { Path = image }],
            Listen = [new UnixDomainSocketEndPoint(socket)],
            TlsCertificateChain = [intermediate],
        };

        Assert.Throws<ArgumentException>(() => NbdServer.Start(options));
        Assert.False(File.Exists(socket), "a refused start bound its socket");
    }

    [Fact]
    public void With_TLS_required_only_STARTTLS_and_ABORT_are_served_before_it()
    {
        using var certs = new TempDir();
        string certDir = certs.Path;
        var cert = TlsCertificates.Create(certDir);
        using var server = new NbdTestServer(configure: o => o with { TlsCertificate = cert, TlsRequired = true });
        using (var c = new RawNbdClient(server.SocketPath))
        {
            c.Hello();
            c.SendOption(7, RawNbdClient.InfoRequest(""));
            Assert.Equal(0x80000005u, c.ReadOptionReply().Type);
            c.SendOption(3, []);
            Assert.Equal(0x80000005u, c.ReadOptionReply().Type);
            c.SendOption(8, []);
            Assert.Equal(0x80000005u, c.ReadOptionReply().Type);
            c.SendOption(5, [1, 2]);
            Assert.Equal(0x80000003u, c.ReadOptionReply().Type);
            c.SendOption(2, []);
            Assert.Equal(1u, c.ReadOptionReply().Type);
            Assert.True(c.IsClosedByServer());
        }

        using (var c = new RawNbdClient(server.SocketPath))
        {
            c.Hello();
            c.SendOption(1, []);
            Assert.True(c.IsClosedByServer(), "EXPORT_NAME before TLS must end the connection");
        }
    }

    [Fact]
    public void Negotiation_before_STARTTLS_is_forgotten_after_it()
    {
        using var certs = new TempDir();
        string certDir = certs.Path;
        var cert = TlsCertificates.Create(certDir);
        using var server = new NbdTestServer(configure: o => o with { TlsCertificate = cert, TlsRequired = false });
        using var c = new RawNbdClient(server.SocketPath);
        c.Hello();
        c.SendOption(8, []);                                   // structured replies, in plaintext
        Assert.Equal(1u, c.ReadOptionReply().Type);
        c.SendOption(5, []);
        Assert.Equal(1u, c.ReadOptionReply().Type);
        using var tls = new SslStream(new NetworkStream(c.Socket, ownsSocket: false), false, (_, _, _, _) => true);
        tls.AuthenticateAsClient("localhost");
        tls.ReadTimeout = 5000;

        // GO over TLS: SEND_DF is only advertised with structured replies, so it must be clear now.
        SendOption(tls, 7, RawNbdClient.InfoRequest(""));
        ushort flags = 0;
        while (true)
        {
            var (type, data) = ReadOptionReply(tls);
            Assert.True(type is 1 or 3, $"GO failed: 0x{type:x}");
            if (type == 3 && BinaryPrimitives.ReadUInt16BigEndian(data) == 0)
            {
                flags = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(10));
            }

            if (type == 1)
            {
                break;
            }
        }

        Assert.Equal(0, flags & 128);

        // And a READ gets a simple reply, not a structured one.
        var request = new byte[28];
        BinaryPrimitives.WriteUInt32BigEndian(request, 0x25609513);
        BinaryPrimitives.WriteUInt64BigEndian(request.AsSpan(8), 9);
        BinaryPrimitives.WriteUInt32BigEndian(request.AsSpan(24), 512);
        tls.Write(request);
        var reply = new byte[16 + 512];
        tls.ReadExactly(reply);
        Assert.Equal(0x67446698u, BinaryPrimitives.ReadUInt32BigEndian(reply));
    }

    internal static void SendOption(Stream s, uint option, byte[] data)
    {
        var header = new byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(header, RawNbdClient.IHaveOpt);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), option);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(12), (uint)data.Length);
        s.Write([.. header, .. data]);
        s.Flush();
    }

    internal static (uint Type, byte[] Data) ReadOptionReply(Stream s)
    {
        var h = new byte[20];
        s.ReadExactly(h);
        var data = new byte[BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(16))];
        s.ReadExactly(data);
        return (BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(12)), data);
    }
}
