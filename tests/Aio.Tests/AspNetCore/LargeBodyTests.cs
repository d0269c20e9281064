using System.Buffers.Binary;
using Aio.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>64 MiB each way, every byte checked (a position-dependent pattern catches loss, duplication and reordering).</summary>
public sealed class LargeBodyTests
{
    private const int Size = 64 * 1024 * 1024;

    /// <summary>The byte at <paramref name="position"/> of the pattern.</summary>
    private static byte At(long position) => (byte)((position * 31) ^ (position >> 12));

    private static void Fill(Span<byte> span, long start)
    {
        for (int i = 0; i < span.Length; i++)
        {
            span[i] = At(start + i);
        }
    }

    [Theory]
    [MemberData(nameof(Transports.Serving), MemberType = typeof(Transports))]
    public async Task A_64_MiB_upload_arrives_intact(TransportKind kind)
    {
        await using var server = await TestWebServer.StartAsync(kind, app => app.MapPost("/upload", async (HttpContext context) =>
        {
            var buffer = new byte[256 * 1024];
            long position = 0;
            long bad = -1;
            int n;
            while ((n = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                for (int i = 0; i < n && bad < 0; i++)
                {
                    if (buffer[i] != At(position + i))
                    {
                        bad = position + i;
                    }
                }

                position += n;
            }

            return $"{position}:{bad}";
        }));
        using var client = server.CreateClient();
        var body = new byte[Size];
        Fill(body, 0);
        using var response = await client.PostAsync("upload", new ByteArrayContent(body));
        Assert.Equal($"{Size}:-1", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [MemberData(nameof(Transports.Serving), MemberType = typeof(Transports))]
    public async Task A_64_MiB_response_arrives_intact(TransportKind kind)
    {
        await using var server = await TestWebServer.StartAsync(kind, app => app.MapGet("/download", async (HttpContext context) =>
        {
            context.Response.ContentLength = Size;
            var chunk = new byte[1024 * 1024];
            for (long sent = 0; sent < Size; sent += chunk.Length)
            {
                Fill(chunk, sent);
                await context.Response.Body.WriteAsync(chunk);
            }
        }));
        using var client = server.CreateClient();
        using var response = await client.GetAsync("download", HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[256 * 1024];
        long position = 0;
        int n;
        while ((n = await stream.ReadAsync(buffer).Within("a read of the response body")) > 0)
        {
            for (int i = 0; i < n; i++)
            {
                if (buffer[i] != At(position + i))
                {
                    Assert.Fail($"byte {position + i} differs");
                }
            }

            position += n;
        }

        Assert.Equal(Size, position);
        server.AssertServedBy(response.Headers.GetValues("x-connection").Single());
    }

    [Fact]
    public async Task The_large_body_pattern_is_position_dependent()
    {
        // Guards the check above: a shifted stream must not match.
        Span<byte> a = stackalloc byte[8192];
        Span<byte> b = stackalloc byte[8192];
        Fill(a, 0);
        Fill(b, 1);
        Assert.False(a.SequenceEqual(b));
        Assert.NotEqual(BinaryPrimitives.ReadInt64LittleEndian(a), BinaryPrimitives.ReadInt64LittleEndian(a[4096..]));
        await Task.CompletedTask;
    }
}
