using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Aio.Tests.Support;

/// <summary>A self-signed server certificate made in the test (.NET CertificateRequest), written as PEM for the clients.</summary>
public static class TlsCertificates
{
    /// <summary>Writes ca-cert.pem (the certificate itself: it is its own CA), server-cert.pem and server-key.pem into <paramref name="dir"/>.</summary>
    public static X509Certificate2 Create(string dir)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment | X509KeyUsageFlags.KeyCertSign, true));
        AddServerIdentity(request);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));
        string certPem = cert.ExportCertificatePem();
        File.WriteAllText(Path.Combine(dir, "ca-cert.pem"), certPem);
        File.WriteAllText(Path.Combine(dir, "server-cert.pem"), certPem);
        File.WriteAllText(Path.Combine(dir, "server-key.pem"), key.ExportPkcs8PrivateKeyPem());
        return X509Certificate2.CreateFromPemFile(Path.Combine(dir, "server-cert.pem"), Path.Combine(dir, "server-key.pem"));
    }

    /// <summary>
    /// A chain as a CA issues them: a root, an intermediate it signed, and the server's certificate signed by the
    /// intermediate. Writes ca-cert.pem (the root alone: what clients trust), server-cert.pem (the server's certificate,
    /// then the intermediate, as servers are given them) and server-key.pem into <paramref name="dir"/>.
    /// </summary>
    public static (X509Certificate2 Server, X509Certificate2 Intermediate) CreateChain(string dir)
    {
        using var rootKey = RSA.Create(2048);
        var rootRequest = new CertificateRequest("CN=Aio test root", rootKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        AddCaExtensions(rootRequest);
        using var root = rootRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(3));

        using var intermediateKey = RSA.Create(2048);
        var intermediateRequest = new CertificateRequest("CN=Aio test intermediate", intermediateKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        AddCaExtensions(intermediateRequest);
        intermediateRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(root, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        using var intermediatePublic = intermediateRequest.Create(root, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2), [1]);
        using var intermediate = intermediatePublic.CopyWithPrivateKey(intermediateKey);

        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        AddServerIdentity(request);
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(intermediate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        using var server = request.Create(intermediate, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), [2]);

        File.WriteAllText(Path.Combine(dir, "ca-cert.pem"), root.ExportCertificatePem());
        File.WriteAllText(Path.Combine(dir, "server-cert.pem"), server.ExportCertificatePem() + "\n" + intermediate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(dir, "server-key.pem"), key.ExportPkcs8PrivateKeyPem());
        return (
            X509Certificate2.CreateFromPemFile(Path.Combine(dir, "server-cert.pem"), Path.Combine(dir, "server-key.pem")),
            X509Certificate2.CreateFromPem(intermediate.ExportCertificatePem()));
    }

    /// <summary>A TLS server's usage, named localhost and 127.0.0.1 (what the clients connect to), and its key's identifier.</summary>
    private static void AddServerIdentity(CertificateRequest request)
    {
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
    }

    private static void AddCaExtensions(CertificateRequest request)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
    }
}
