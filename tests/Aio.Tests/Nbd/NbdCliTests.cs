using System.Diagnostics;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary><c>aio nbd serve</c> end to end: one URI line on stdout, exit 2 on bad input, SIGTERM drains and exits 0.</summary>
public class NbdCliTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("nope.img")]
    [InlineData("disk.img", "--socket", "s", "--port", "1")]
    [InlineData("disk.img", "--cache", "sometimes")]
    [InlineData("disk.img", "--tls-cert", "c.pem")]
    [InlineData("disk.img", "--tls", "required")]
    [InlineData("a=disk.img", "a=disk.img")]
    [InlineData("disk.img", "--bind", "not-an-address", "--port", "0")]
    [InlineData("disk.img", "--handshake-timeout", "never")]
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

    private static Process Start(string dir, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dir,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Aio.Cli.dll"));
        foreach (string arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        var process = Process.Start(psi)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        return process;
    }

    private static string? ReadLine(Process process)
    {
        var line = process.StandardOutput.ReadLineAsync();
        if (!line.Wait(s_timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("aio nbd serve printed no URI line");
        }

        return line.Result;
    }

    private static int Stop(Process process)
    {
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
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
