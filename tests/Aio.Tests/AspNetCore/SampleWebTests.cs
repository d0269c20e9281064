using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// The benchmark's web app (samples/Aio.Sample.Web) as a child process on a Unix-domain socket (no port to race for):
/// its endpoints answer what bench/http-compare loads them with, on each transport.
/// </summary>
public sealed class SampleWebTests
{
    private static string SampleDll()
    {
        // .../tests/Aio.Tests/bin/<Configuration>/<tfm>/ -> .../samples/Aio.Sample.Web/bin/<Configuration>/<tfm>/Aio.Sample.Web.dll
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var root = output;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Aio.slnx")))
        {
            root = root.Parent;
        }

        Assert.True(root is not null, $"no Aio.slnx above {output.FullName}");
        string dll = Path.Combine(root!.FullName, "samples", "Aio.Sample.Web", "bin", output.Parent!.Name, output.Name, "Aio.Sample.Web.dll");
        Assert.True(File.Exists(dll), $"{dll} is not built: build the solution first");
        return dll;
    }

    private static bool Accepts(string socketPath)
    {
        if (!File.Exists(socketPath))
        {
            return false;
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(socketPath));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public static TheoryData<string[]> Transports => new()
    {
        new[] { "--transport", "sockets" },
        new[] { "--transport", "aio", "--scheduling", "loop", "--loops", "1" },
        new[] { "--transport", "aio", "--scheduling", "threadpool", "--loops", "2", "--poll-max-ns", "0" },
    };

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task The_sample_serves_a_1_MiB_response_plaintext_and_json(string[] transport)
    {
        using var dir = new TempDir();
        string socketPath = Path.Combine(dir.Path, "web.sock");
        using var process = Process.Start(ChildProcess.StartInfo("dotnet", dir.Path, [SampleDll(), "--urls", "http://unix:" + socketPath, .. transport]))!;
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            using var client = new HttpClient(new SocketsHttpHandler
            {
                ConnectCallback = async (_, ct) =>
                {
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    try
                    {
                        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }

                    return new NetworkStream(socket, ownsSocket: true);
                },
            })
            {
                BaseAddress = new Uri("http://localhost/"),
                Timeout = TimeSpan.FromSeconds(20),
            };

            // Started once the socket accepts a connection (its file appears at bind, before listen: a connect then is refused).
            Wait.Until(
                () => Accepts(socketPath) || process.HasExited,
                () => Thread.Sleep(20),
                "the sample to bind " + socketPath,
                TimeSpan.FromSeconds(60));
            if (process.HasExited)
            {
                Assert.Fail("the sample exited: " + await stderr);
            }

            using (var response = await client.GetAsync("bytes/1m"))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(1024 * 1024, response.Content.Headers.ContentLength);
                byte[] body = await response.Content.ReadAsByteArrayAsync();
                Assert.Equal(1024 * 1024, body.Length);
                for (int i = 0; i < body.Length; i++)
                {
                    if (body[i] != (byte)(i % 251))
                    {
                        Assert.Fail($"byte {i} is {body[i]}, not {i % 251}");
                    }
                }
            }

            Assert.Equal("Hello, World!", await client.GetStringAsync("plaintext"));
            Assert.Equal("{\"message\":\"Hello, World!\"}", await client.GetStringAsync("json"));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            Assert.True(process.WaitForExit(20_000), "the sample did not exit after the kill");
        }
    }
}
