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

    public static TheoryData<string[], string> Transports => new()
    {
        { new[] { "--transport", "sockets" }, "sockets" },
        { new[] { "--transport", "aio", "--scheduling", "loop", "--loops", "1" }, "aio" },
        { new[] { "--transport", "aio", "--scheduling", "threadpool", "--loops", "2", "--poll-max-ns", "0" }, "aio" },
    };

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task The_sample_serves_a_1_MiB_response_plaintext_and_json(string[] transport, string served)
    {
        using var dir = new TempDir();
        await RunSample(dir, "dotnet", [SampleDll(), .. transport], async (client, _) =>
        {
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
            // Without io_uring the Aio transport binds nothing and Sockets serves.
            Assert.Equal(MonitorKinds.IoUringAvailable ? served : "sockets", await client.GetStringAsync("transport"));
        });
    }

    [StraceFact]
    public async Task With_io_uring_refused_the_sample_says_Sockets_serves_and_so_does_GET_transport()
    {
        // What bench/http-compare checks before it measures an Aio configuration: a fallen-back server is not Aio's.
        using var dir = new TempDir();
        string[] strace = ["-f", "-qq", "--seccomp-bpf", "-e", "trace=io_uring_setup", "-e", "inject=io_uring_setup:error=EPERM", "dotnet", SampleDll(), "--transport", "aio", "--scheduling", "loop"];
        await RunSample(dir, Strace.Executable!, strace, async (client, stderr) =>
        {
            Assert.Equal("sockets", await client.GetStringAsync("transport"));
            Assert.Equal("Hello, World!", await client.GetStringAsync("plaintext"));
            Wait.Until(() => stderr().Contains("io_uring is unavailable", StringComparison.Ordinal), () => Thread.Sleep(20), "the fallback's message on stderr");
        });
    }

    [Theory]
    [InlineData("--transport", "aio", "--scheduling", "Loop")]
    [InlineData("--transport", "uring")]
    [InlineData("--nodelay", "False")]
    [InlineData("--transport", "aio", "--loops", "two")]
    [InlineData("--transport", "aio", "--poll-max-ns", "-1")]
    [InlineData("--transport", "sockets", "--loops", "2")]
    [InlineData("--transport", "aio", "--inline", "true")]
    [InlineData("--transport", "aio", "--schedulng", "loop")]
    public void A_bad_or_misplaced_switch_exits_2_with_one_line_instead_of_serving_another_configuration(params string[] args)
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = ChildProcess.RunDll(SampleDll(), dir.Path, TimeSpan.FromSeconds(60), ["--urls", "http://unix:" + Path.Combine(dir.Path, "web.sock"), .. args]);
        Assert.True(code == 2, $"exit {code}: {stderr}");
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("--" + args[^2].TrimStart('-'), stderr, StringComparison.Ordinal);
        Assert.Empty(stdout);
    }

    /// <summary>
    /// Starts <paramref name="executable"/> <paramref name="args"/> (the sample, perhaps under strace) on a Unix socket in
    /// <paramref name="dir"/>, runs <paramref name="test"/> with a client of it and a reader of its stderr so far, then kills it.
    /// </summary>
    private static async Task RunSample(TempDir dir, string executable, string[] args, Func<HttpClient, Func<string>, Task> test)
    {
        string socketPath = Path.Combine(dir.Path, "web.sock");
        var startInfo = ChildProcess.StartInfo(executable, dir.Path, [.. args, "--urls", "http://unix:" + socketPath]);
        using var process = Process.Start(startInfo)!;
        var stderr = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        string StderrSoFar()
        {
            lock (stderr)
            {
                return stderr.ToString();
            }
        }

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
                Assert.Fail("the sample exited: " + StderrSoFar());
            }

            await test(client, StderrSoFar);
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
