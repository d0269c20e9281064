using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// HTTPS through Kestrel's TLS middleware on every transport (Sockets is the oracle). TLS reads the transport through
/// a stream, so in Loop mode the connection's first read (the ClientHello) comes from the thread pool and takes the
/// entry hop to the loop; the handshake and every record after it then run there.
/// </summary>
public sealed class HttpsTests : IDisposable
{
    private const int Size = 4 * 1024 * 1024;
    private readonly string _certificates = Directory.CreateTempSubdirectory("aio-https-").FullName;
    private readonly X509Certificate2 _certificate;

    public HttpsTests() => _certificate = TlsCertificates.Create(_certificates);

    public void Dispose()
    {
        _certificate.Dispose();
        Directory.Delete(_certificates, recursive: true);
    }

    private static void Map(WebApplication app)
    {
        HttpBasicsTests.MapBasics(app);
        app.MapGet("/download", async (HttpContext context) =>
        {
            context.Response.ContentLength = Size;
            await context.Response.Body.WriteAsync(Pattern());
        });
        app.MapPost("/sha256", async (HttpContext context) =>
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[64 * 1024];
            int n;
            while ((n = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                sha.AppendData(buffer, 0, n);
            }

            return Convert.ToHexString(sha.GetHashAndReset());
        });
    }

    private static byte[] Pattern()
    {
        var bytes = new byte[Size];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)((i * 31) ^ (i >> 12));
        }

        return bytes;
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Get_post_and_4_MiB_each_way_arrive_intact_over_TLS(TransportKind kind)
    {
        await using var server = await TestWebServer.StartAsync(kind, Map, https: _certificate);
        using var client = server.CreateClient();
        Assert.Equal("https", client.BaseAddress!.Scheme);

        using var get = await client.GetAsync("hello");
        Assert.Equal("hello", await get.Content.ReadAsStringAsync());
        server.AssertServedBy(get.Headers.GetValues("x-connection").Single());

        using var post = await client.PostAsync("echo", new StringContent("payload"));
        Assert.Equal("echo:payload", await post.Content.ReadAsStringAsync());

        byte[] pattern = Pattern();
        Assert.Equal(pattern, await client.GetByteArrayAsync("download"));

        using var upload = await client.PostAsync("sha256", new ByteArrayContent(pattern));
        Assert.Equal(Convert.ToHexString(SHA256.HashData(pattern)), await upload.Content.ReadAsStringAsync());
        server.AssertNothingLoggedAbove(LogLevel.Information);
    }

    [Theory]
    [MemberData(nameof(Transports.Serving), MemberType = typeof(Transports))]
    public async Task Curl_gets_answers_over_TLS_on_new_connections(TransportKind kind)
    {
        await using var server = await TestWebServer.StartAsync(kind, Map, https: _certificate);

        // Every curl run is a new connection, so each one's handshake is that connection's first read.
        string ca = Path.Combine(_certificates, "ca-cert.pem");
        for (int i = 0; i < 3; i++)
        {
            string headers = Path.Combine(_certificates, $"headers-{i}.txt");
            Assert.Equal("hello", await Curl.RunAsync("-s", "--cacert", ca, "-D", headers, new Uri(server.BaseUri, "hello").ToString()));
            string connection = File.ReadLines(headers).Single(l => l.StartsWith("x-connection:", StringComparison.OrdinalIgnoreCase)).Split(':', 2)[1].Trim();
            server.AssertServedBy(connection);
        }

        server.AssertNothingLoggedAbove(LogLevel.Information);
    }
}
