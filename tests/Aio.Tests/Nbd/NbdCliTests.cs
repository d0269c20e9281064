using System.Diagnostics;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary><c>aio nbd serve</c> end to end: one URI line on stdout, exit 2 on bad input, SIGTERM drains and exits 0.</summary>
public sealed class NbdCliTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Process, System.Text.StringBuilder> s_stderr = new();

    // Every server this test started (pid and start time: the test's own `using` disposes the Process object first).
    // One a failed assertion left running is killed with its launcher when the test ends, so a red test leaves no
    // server or strace behind.
    private readonly List<(int Pid, DateTime Started)> _started = [];

    public void Dispose()
    {
        foreach (var (pid, started) in _started)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                if (process.StartTime == started)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(s_timeout);
                }
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
                // Already gone.
            }
        }
    }

    [Theory]
    [InlineData("nope.img")]
    [InlineData("disk.img", "--socket", "s", "--port", "1")]
    [InlineData("disk.img", "--cache", "sometimes")]
    [InlineData("disk.img", "--tls-cert", "c.pem")]
    [InlineData("disk.img", "--tls", "required")]
    [InlineData("a=disk.img", "a=disk.img")]
    [InlineData("disk.img", "--bind", "not-an-address", "--port", "0")]
    [InlineData("disk.img", "--handshake-timeout", "never")]
    [InlineData("disk.img", "--handshake-timeout", "nan")]
    [InlineData("disk.img", "--handshake-timeout", "1e300")]
    [InlineData("disk.img", "--handshake-timeout", "0.00000001")]
    [InlineData("disk.img", "--handshake-timeout", "100000m")]
    [InlineData("disk.img", "--socket", "")]
    [InlineData("disk.img", "--threads", "100000")]
    [InlineData("disk.img", "--threads", "-1")]
    [InlineData("disk.img", "--poll-max-ns", "-1")]
    [InlineData("disk.img", "--socket", "/tmp/a-socket-path-longer-than-the-107-bytes-sun-path-holds-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public void Bad_command_lines_and_unusable_files_print_one_line_and_exit_2(params string[] args)
    {
        using var dir = new TempDir();
        File.WriteAllBytes(Path.Combine(dir.Path, "disk.img"), new byte[65536]);
        var (code, stdout, stderr) = ChildProcess.RunDll("Aio.Cli.dll", dir.Path, s_timeout, ["nbd", "serve", .. args]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [NbdToolFact("qemu-io")]
    public void Serve_prints_exactly_one_URI_line_serves_named_exports_and_exits_0_on_SIGTERM()
    {
        using var dir = new TempDir();
        string a = Path.Combine(dir.Path, "a.img");
        string b = Path.Combine(dir.Path, "b.img");
        File.WriteAllBytes(a, new byte[1 << 20]);
        File.WriteAllBytes(b, new byte[(1 << 20) + 7]);
        string socket = Path.Combine(dir.Path, "s.sock");
        using var server = Start(dir.Path, "nbd", "serve", "first=" + a, "second=" + b, "--socket", socket, "--threads", "2");
        string? uri = ReadLine(server);
        Assert.Equal($"nbd+unix:///first?socket={socket}", uri);
        NbdTools.Check("qemu-io", "-f", "raw", uri!, "-c", "write -P 0x42 0 64k", "-c", "read -P 0x42 0 64k");
        NbdTools.Check("qemu-io", "-f", "raw", $"nbd+unix:///second?socket={socket}", "-c", "write -P 0x43 1048000 583", "-c", "read -P 0x43 1048000 583");
        Assert.Equal((1 << 20) + 7, new FileInfo(b).Length);
        Assert.Equal(0, Stop(server));
        Assert.Equal("", server.StandardOutput.ReadToEnd());
        Assert.False(File.Exists(socket), "the socket file was left behind");
    }

    [NbdToolFact("nbdinfo")]
    public void Serve_sends_the_intermediates_that_follow_the_certificate_in_its_PEM_file()
    {
        // server-cert.pem holds the server's certificate and then the intermediate, as a CA delivers them; the client
        // trusts only the root.
        using var dir = new TempDir();
        TlsCertificates.CreateChain(dir.Path);
        string a = Path.Combine(dir.Path, "a.img");
        File.WriteAllBytes(a, new byte[1 << 20]);
        // Over TCP: libnbd checks the peer against the URI's host (127.0.0.1, in the certificate), and skips that over a
        // Unix socket.
        using var server = Start(dir.Path, "nbd", "serve", a, "--port", "0",
            "--tls-cert", Path.Combine(dir.Path, "server-cert.pem"), "--tls-key", Path.Combine(dir.Path, "server-key.pem"));
        string? uri = ReadLine(server);
        Assert.StartsWith("nbds://127.0.0.1:", uri, StringComparison.Ordinal);
        string size = NbdTools.Check("nbdinfo", "--size", $"{uri}?tls-certificates={dir.Path}");
        Assert.Equal((1 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), size.Trim());
        Assert.Equal(0, Stop(server));
    }

    [Theory]
    [InlineData("--port", "abc")]
    [InlineData("--requests", "abc")]
    public void A_word_where_a_number_belongs_is_named_in_the_command_lines_words(string option, string value)
    {
        using var dir = new TempDir();
        File.WriteAllBytes(Path.Combine(dir.Path, "disk.img"), new byte[65536]);
        var (code, _, stderr) = ChildProcess.RunDll("Aio.Cli.dll", dir.Path, s_timeout, "nbd", "serve", "disk.img", option, value);
        Assert.Equal(2, code);
        Assert.Equal($"aio: {option}: '{value}' is not a whole number", stderr.Trim());
    }

    [Fact]
    public void An_unknown_option_is_called_one_not_a_missing_file()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(Path.Combine(dir.Path, "disk.img"), new byte[65536]);
        var (code, _, stderr) = ChildProcess.RunDll("Aio.Cli.dll", dir.Path, s_timeout, "nbd", "serve", "disk.img", "--foo");
        Assert.Equal(2, code);
        Assert.Equal("aio: unknown option '--foo'", stderr.Trim());
    }

    [Fact]
    public void A_port_in_use_is_named_in_the_one_line_and_exits_2()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(Path.Combine(dir.Path, "disk.img"), new byte[65536]);
        using var holder = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        holder.Start();
        int port = ((System.Net.IPEndPoint)holder.LocalEndpoint).Port;
        var (code, stdout, stderr) = ChildProcess.RunDll("Aio.Cli.dll", dir.Path, s_timeout, "nbd", "serve", "disk.img", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"aio: cannot listen on 127.0.0.1:{port}: ", stderr.Trim());
    }

    [Fact]
    public void A_second_SIGTERM_ends_a_server_whose_drain_a_client_holds_up()
    {
        using var dir = new TempDir();
        string a = Path.Combine(dir.Path, "a.img");
        File.WriteAllBytes(a, new byte[32 << 20]);
        string socket = Path.Combine(dir.Path, "s.sock");
        using var server = Start(dir.Path, "nbd", "serve", a, "--socket", socket, "--cache", "writeback");
        ReadLine(server);
        using var client = new RawNbdClient(socket);
        client.Negotiate();

        // READs of 32 MiB whose replies the client never reads: the server's send stalls on the full socket buffer,
        // and the drain (answer every request read) waits for it, up to 30 s. Once reply bytes arrive, a request has
        // been read and is being answered.
        for (ulong i = 0; i < 8; i++)
        {
            client.SendRequest(0, Aio.Nbd.NbdProtocol.CmdRead, i, 0, 32 << 20);
        }

        Wait.Until(() => client.Socket.Available > 0, () => Thread.Sleep(5), "the first reply's bytes");
        string pid = server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        void Term()
        {
            using var kill = Process.Start("kill", ["-TERM", pid])!;
            kill.WaitForExit();
        }

        Term();
        Wait.Until(() => Stderr(server).Contains("aio nbd: stopping", StringComparison.Ordinal), () => Thread.Sleep(5), "the server's stopping line");
        Assert.False(server.HasExited, "the drain was not held up; the test proves nothing");
        Term();

        // Well inside the 30 s the drain would take; the default action of SIGTERM (128 + 15), not a drained exit 0.
        Assert.True(server.WaitForExit(TimeSpan.FromSeconds(15)), "a second SIGTERM did not end the server");
        Assert.Equal(143, server.ExitCode);
    }

    [NbdToolFact("nbdinfo")]
    public void A_socket_path_with_URI_delimiters_is_escaped_in_the_URI_and_clients_follow_it()
    {
        using var dir = new TempDir();
        string a = Path.Combine(dir.Path, "a.img");
        File.WriteAllBytes(a, new byte[1 << 20]);
        string socket = Path.Combine(dir.Path, "my sock&x#1");
        using var server = Start(dir.Path, "nbd", "serve", a, "--socket", socket);
        string? uri = ReadLine(server);
        Assert.Equal($"nbd+unix:///?socket={dir.Path}/my%20sock%26x%231", uri);
        Assert.Contains("1048576", NbdTools.Check("nbdinfo", "--size", uri!));
        Assert.Equal(0, Stop(server));
    }

    [NbdToolFact("nbdinfo")]
    public void A_bare_file_whose_path_has_an_equals_sign_is_served_whole_not_split_into_a_name()
    {
        // Beside it a file named as the part after the '=', which a split would serve instead, under the name "a".
        using var dir = new TempDir();
        string whole = Path.Combine(dir.Path, "a=b.img");
        File.WriteAllBytes(whole, new byte[3 << 20]);
        File.WriteAllBytes(Path.Combine(dir.Path, "b.img"), new byte[1 << 20]);
        string socket = Path.Combine(dir.Path, "s");
        using var server = Start(dir.Path, "nbd", "serve", "a=b.img", "--socket", socket);
        string? uri = ReadLine(server);
        Assert.Equal($"nbd+unix:///?socket={dir.Path}/s", uri);
        Assert.Contains((3 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), NbdTools.Check("nbdinfo", "--size", uri!));
        Assert.Equal(0, Stop(server));
    }

    [NbdToolFact("nbdinfo")]
    public void Serve_on_TCP_port_0_prints_the_real_port()
    {
        using var dir = new TempDir();
        string a = Path.Combine(dir.Path, "a.img");
        File.WriteAllBytes(a, new byte[1 << 20]);
        using var server = Start(dir.Path, "nbd", "serve", a, "--port", "0", "--read-only", "--cache", "writeback");
        string? uri = ReadLine(server);
        Assert.NotNull(uri);
        Assert.Matches(@"^nbd://127\.0\.0\.1:[1-9][0-9]*/$", uri);
        string info = NbdTools.Check("nbdinfo", "--is", "read-only", uri!);
        Assert.Equal(0, Stop(server));
        _ = info;
    }

    [NbdToolFact("qemu-io", "strace")]
    public void A_page_cache_write_the_file_system_refuses_reaches_the_client_as_its_errno()
        => PageCacheWriteFails("ENOSPC", "No space left on device");

    [NbdToolFact("qemu-io", "strace")]
    public void A_page_cache_write_refused_for_permission_reaches_the_client_as_EPERM()
        => PageCacheWriteFails("EACCES", "Operation not permitted");   // .NET throws UnauthorizedAccessException

    private void PageCacheWriteFails(string errno, string message)
    {
        // Page-cache writes are pwrite calls on the loop (not ring requests): strace makes the file system refuse one.
        using var dir = new TempDir();
        string a = Path.Combine(dir.Path, "a.img");
        File.WriteAllBytes(a, new byte[1 << 20]);
        string socket = Path.Combine(dir.Path, "s.sock");
        string[] strace = ["strace", "-f", "-qq", "--seccomp-bpf", "-o", "/dev/null", "-e", "trace=pwrite64", "-e", "inject=pwrite64:error=" + errno];
        using var server = Start(dir.Path, strace, "nbd", "serve", a, "--socket", socket, "--cache", "writeback");
        string? uri = ReadLine(server);
        var (code, stdout, stderr) = NbdTools.Run("qemu-io", "-f", "raw", uri!, "-c", "write -P 0x42 0 4k", "-c", "read -P 0 4k 4k");
        Assert.Contains("write failed: " + message, stdout + stderr);
        Assert.DoesNotContain("read failed", stdout + stderr);
        _ = code;
        Assert.Equal(0, Stop(server, launched: true));
    }

    [NbdToolFact("strace")]
    public void Where_the_file_system_cannot_zero_a_range_fast_zero_fails_and_zeroes_are_written_O_DIRECT()
        => ZeroingWithoutFallocate([]);

    [NbdToolFact("strace")]
    public void Where_the_file_system_cannot_zero_a_range_fast_zero_fails_and_zeroes_are_written_page_cache()
        => ZeroingWithoutFallocate(["--cache", "writeback"]);

    private void ZeroingWithoutFallocate(string[] cache)
    {
        // strace makes every fallocate fail with EOPNOTSUPP, as on a file system without hole punching or range
        // zeroing: the server must fall back to writing zeroes, refuse FAST_ZERO with ENOTSUP without touching the
        // data, and treat TRIM as the hint it is. io_uring is refused too: the ring's FALLOCATE runs inside the kernel
        // and makes no system call that strace could fail, while the fallback's fallocate runs on the thread pool
        // through the same answer-mapping. (The ring's own refusals are tested on tmpfs, which cannot zero a range.)
        const int Size = 4 << 20;
        using var dir = new TempDir();
        string a = Path.Combine(dir.Path, "a.img");
        var expected = new byte[Size];
        new Random(31).NextBytes(expected);
        File.WriteAllBytes(a, expected);
        string socket = Path.Combine(dir.Path, "s.sock");
        string[] strace = ["strace", "-f", "-qq", "--seccomp-bpf", "-o", "/dev/null", "-e", "trace=fallocate,io_uring_setup", "-e", "inject=fallocate:error=EOPNOTSUPP", "-e", "inject=io_uring_setup:error=ENOSYS"];
        using var server = Start(dir.Path, strace, ["nbd", "serve", a, "--socket", socket, .. cache]);
        Assert.NotNull(ReadLine(server));
        using (var client = new RawNbdClient(socket))
        {
            var (_, flags) = client.Negotiate();
            Assert.NotEqual(0, flags & Aio.Nbd.NbdProtocol.FlagSendFastZero);

            Assert.Equal(Aio.Nbd.NbdProtocol.ENOTSUP, NbdWriteZeroesTests.Zero(client, 1, 64 << 10, 1 << 20, Aio.Nbd.NbdProtocol.CmdFlagFastZero, expected));
            Assert.Equal(Aio.Nbd.NbdProtocol.ENOTSUP, NbdWriteZeroesTests.Zero(client, 2, 2 << 20, 4096, Aio.Nbd.NbdProtocol.CmdFlagFastZero | Aio.Nbd.NbdProtocol.CmdFlagNoHole, expected));

            client.SendRequest(0, Aio.Nbd.NbdProtocol.CmdTrim, 3, (ulong)(1536 << 10), 256 << 10);
            var (trimError, trimCookie, _) = client.ReadSimpleReply();
            Assert.Equal(3ul, trimCookie);
            Assert.Equal(0u, trimError);

            Assert.Equal(0u, NbdWriteZeroesTests.Zero(client, 4, (3 << 20) + 100, 5000, 0, expected));
            Assert.Equal(0u, NbdWriteZeroesTests.Zero(client, 5, 2 << 20, 512 << 10, Aio.Nbd.NbdProtocol.CmdFlagNoHole, expected));
            Assert.Equal(0u, NbdWriteZeroesTests.Zero(client, 6, Size - 3000, 3000, 0, expected));

            NbdWriteZeroesTests.AssertReadsBack(client, expected);
        }

        Assert.Equal(0, Stop(server, launched: true));
        var onDisk = File.ReadAllBytes(a);
        int same = onDisk.AsSpan().CommonPrefixLength(expected);
        Assert.True(same == Size, $"the file differs from the expected image at byte {same}");
    }

    [NbdToolFact("strace")]
    public void A_structured_page_cache_read_whose_allocation_lseek_fails_gets_the_error_and_the_connection_goes_on()
    {
        // A page-cache READ with structured replies asks SEEK_DATA/SEEK_HOLE before it is answered in the receive loop;
        // strace makes every lseek fail: the READ must be answered with the error (not crash the receive loop, not drop
        // the connection), and the next request served.
        using var dir = new TempDir();
        string a = Path.Combine(dir.Path, "a.img");
        var data = new byte[1 << 20];
        new Random(7).NextBytes(data);
        File.WriteAllBytes(a, data);
        string socket = Path.Combine(dir.Path, "s.sock");
        string[] strace = ["strace", "-f", "-qq", "--seccomp-bpf", "-o", "/dev/null", "-e", "trace=lseek", "-e", "inject=lseek:error=EIO"];
        using var server = Start(dir.Path, strace, "nbd", "serve", a, "--socket", socket, "--cache", "writeback");
        Assert.NotNull(ReadLine(server));
        using (var client = new RawNbdClient(socket))
        {
            client.Negotiate(structured: true);
            client.SendRequest(0, Aio.Nbd.NbdProtocol.CmdRead, 1, 8192, 4096);
            Assert.Equal(Aio.Nbd.NbdProtocol.EIO, client.ReadStructuredError(1));

            // DF asks for no allocation answer: the same READ then succeeds, with the file's bytes.
            client.SendRequest(Aio.Nbd.NbdProtocol.CmdFlagDf, Aio.Nbd.NbdProtocol.CmdRead, 2, 8192, 4096);
            var chunk = client.ReadReply();
            Assert.Equal((2ul, Aio.Nbd.NbdProtocol.ReplyTypeOffsetData), (chunk.Cookie, chunk.Type));
            Assert.True(chunk.Payload.AsSpan(8).SequenceEqual(data.AsSpan(8192, 4096)), "the DF read returned other bytes than the file's");

            client.SendRequest(0, Aio.Nbd.NbdProtocol.CmdFlush, 3, 0, 0);
            Assert.Equal(0u, client.ReadStructuredError(3));
        }

        Assert.Equal(0, Stop(server, launched: true));
    }

    [Fact]
    public void Options_claiming_32_MiB_of_data_do_not_make_the_server_hold_32_MiB_each()
    {
        // Eight clients each announce an unknown option with 32 MiB of data (the most allowed) and send almost all of
        // it before any finishes: a server that allocated what the header claims would hold 8 x 32 MiB at once. Measured
        // as the server process's peak resident memory, so it runs as a child.
        const int Clients = 8;
        const int MiB = 1 << 20;
        using var dir = new TempDir();
        string a = Path.Combine(dir.Path, "a.img");
        File.WriteAllBytes(a, new byte[MiB]);
        string socket = Path.Combine(dir.Path, "s.sock");
        using var server = Start(dir.Path, "nbd", "serve", a, "--socket", socket);
        Assert.NotNull(ReadLine(server));
        long before = PeakResidentBytes(server.Id);

        var clients = new List<RawNbdClient>();
        try
        {
            for (int i = 0; i < Clients; i++)
            {
                var client = new RawNbdClient(socket);
                clients.Add(client);
                client.Hello();
                client.SendOption(99, [], length: 32u * MiB);
            }

            var chunk = new byte[MiB];
            foreach (int part in new[] { 31, 1 })
            {
                foreach (var client in clients)
                {
                    for (int i = 0; i < part; i++)
                    {
                        client.Send(chunk);
                    }
                }
            }

            foreach (var client in clients)
            {
                Assert.Equal(Aio.Nbd.NbdProtocol.RepErrUnsup, client.ReadOptionReply().Type);
            }

            long growth = PeakResidentBytes(server.Id) - before;
            Assert.True(growth < 96L * MiB, $"the server's peak resident memory grew by {growth / MiB} MiB while eight options announced 32 MiB each");
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }

        Assert.Equal(0, Stop(server));
    }

    private static long PeakResidentBytes(int pid)
    {
        // VmHWM: the most resident memory the process ever had, in kB.
        string line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    private Process Start(string dir, params string[] args) => Start(dir, [], args);

    private Process Start(string dir, string[] launcher, params string[] args)
    {
        var psi = new ProcessStartInfo(launcher.Length > 0 ? launcher[0] : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dir,
        };
        foreach (string arg in launcher.Skip(1))
        {
            psi.ArgumentList.Add(arg);
        }

        if (launcher.Length > 0)
        {
            psi.ArgumentList.Add("dotnet");
        }

        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Aio.Cli.dll"));
        foreach (string arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        var process = Process.Start(psi)!;
        var stderr = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }
        };
        s_stderr.Add(process, stderr);
        _started.Add((process.Id, process.StartTime));
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>What the server (or strace in front of it) wrote to stderr so far, for failure messages.</summary>
    private static string Stderr(Process process)
    {
        if (!s_stderr.TryGetValue(process, out var stderr))
        {
            return "";
        }

        lock (stderr)
        {
            return stderr.ToString();
        }
    }

    private static string? ReadLine(Process process)
    {
        var line = process.StandardOutput.ReadLineAsync();
        if (!line.Wait(s_timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("aio nbd serve printed no URI line; its stderr: " + Stderr(process));
        }

        if (line.Result is null)
        {
            Assert.Fail("aio nbd serve ended without a URI line; its stderr: " + Stderr(process));
        }

        return line.Result;
    }

    /// <summary>SIGTERM to the server (with <paramref name="launched"/>, to the children of its launcher, strace).</summary>
    private static int Stop(Process process, bool launched = false)
    {
        string pid = process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using (var kill = launched ? Process.Start("pkill", ["-TERM", "-P", pid]) : Process.Start("kill", ["-TERM", pid]))
        {
            kill.WaitForExit();
        }

        if (!process.WaitForExit(s_timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("aio nbd serve did not exit after SIGTERM");
        }

        return process.ExitCode;
    }
}
