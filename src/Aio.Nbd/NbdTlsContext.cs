using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Aio.Nbd;

/// <summary>
/// The server certificate as every handshake uses it: its chain built once when the server starts, off the loops. Left
/// to the first handshake (what SslStream does with a bare certificate), OpenSSL's set-up and the chain's search of the
/// trust store (~80 ms, 200+ ms on a busy machine) ran on that client's loop and stalled every connection on it.
/// </summary>
internal static class NbdTlsContext
{
    /// <summary>
    /// Builds the context from <paramref name="certificate"/>, the intermediates in <paramref name="chain"/> and the
    /// machine's stores. <paramref name="warning"/> says so when the certificate will go out without its issuer.
    /// </summary>
    /// <exception cref="ArgumentException">SslStream cannot serve with the certificate (a DSA key, say).</exception>
    public static SslStreamCertificateContext Create(X509Certificate2 certificate, X509Certificate2Collection? chain, out string? warning)
    {
        SslStreamCertificateContext context;
        try
        {
            // Offline: nothing is fetched over the network. Online, a missing intermediate would be downloaded here
            // (15 s when its host does not answer, holding up the start), and OCSP staples fetched now and refreshed
            // from later handshakes, on the loops.
            context = SslStreamCertificateContext.Create(certificate, chain, offline: true);
        }
        catch (Exception ex) when (ex is NotSupportedException or CryptographicException)
        {
            throw new ArgumentException($"The TLS certificate cannot be served: {ex.Message}", "options", ex);
        }

        warning = IssuerMissing(certificate, chain)
            ? $"the TLS certificate goes out alone: its issuer ({certificate.Issuer}) is neither in the chain given (TlsCertificateChain; for aio nbd serve, the certificates after it in the --tls-cert file) nor in this machine's stores, and nothing is fetched over the network; a client that trusts only a root above it cannot verify the server"
            : null;
        return context;
    }

    /// <summary>
    /// True when the certificate is not self-issued and no certificate that issued it can be found. Before the chain
    /// was built offline, SslStream downloaded such an issuer (the certificate's AIA address), so a certificate that
    /// worked that way now needs its intermediates given: this is what says so.
    /// </summary>
    private static bool IssuerMissing(X509Certificate2 certificate, X509Certificate2Collection? chain)
    {
        if (certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData))
        {
            return false;
        }

        using var built = new X509Chain();
        built.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        built.ChainPolicy.DisableCertificateDownloads = true;
        if (chain is not null)
        {
            built.ChainPolicy.ExtraStore.AddRange(chain);
        }

        // The result (trusted or not) does not matter: only whether anything above the certificate was found.
        _ = built.Build(certificate);
        return built.ChainElements.Count < 2;
    }
}
