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
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));
        string certPem = cert.ExportCertificatePem();
        File.WriteAllText(Path.Combine(dir, "ca-cert.pem"), certPem);
        File.WriteAllText(Path.Combine(dir, "server-cert.pem"), certPem);
        File.WriteAllText(Path.Combine(dir, "server-key.pem"), key.ExportPkcs8PrivateKeyPem());
        return X509Certificate2.CreateFromPemFile(Path.Combine(dir, "server-cert.pem"), Path.Combine(dir, "server-key.pem"));
    }
}
