using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Samples;

/// <summary>
/// Runs every example of samples/Aio.Samples (the code the README quotes) as a child process and checks what it
/// printed, so the README's examples are proven to work, not only to compile. The samples are built by the solution
/// (`dotnet test -c Release` at the root), not referenced by this project: the test finds the built dll by path.
/// </summary>
public sealed class SamplesTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    private static string SamplesDll()
    {
        // .../tests/Aio.Tests/bin/<Configuration>/<tfm>/ -> .../samples/Aio.Samples/bin/<Configuration>/<tfm>/Aio.Samples.dll
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = output.Name;
        string configuration = output.Parent!.Name;
        var root = output;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Aio.slnx")))
        {
            root = root.Parent;
        }

        Assert.True(root is not null, $"no Aio.slnx above {output.FullName}");
        string dll = Path.Combine(root!.FullName, "samples", "Aio.Samples", "bin", configuration, tfm, "Aio.Samples.dll");
        Assert.True(File.Exists(dll), $"{dll} is not built: build the solution (dotnet build -c {configuration}) first");
        return dll;
    }

    private static string Run(string sample)
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = ChildProcess.RunDll(SamplesDll(), dir.Path, s_timeout, sample);
        Assert.True(code == 0, $"sample {sample} exited with {code}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        Assert.True(stderr.Length == 0, $"sample {sample} wrote to stderr:\n{stderr}");
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
        return stdout;
    }

    [Fact]
    public void The_blockfile_sample_reads_back_what_it_wrote_with_O_DIRECT()
    {
        string output = Run("blockfile");
        Assert.Contains("blockfile: read 4096 bytes, first byte 0xA5, engine " + (MonitorKinds.IoUringAvailable ? "IoUring" : "Threads"), output);
    }

    [Fact]
    public void The_fd_handler_sample_hears_the_pipe_and_the_notifier_set_by_another_thread()
    {
        string output = Run("fd");
        Assert.Contains("fd: pipe said 'hello', notifier set: True", output);
        Assert.Matches(@"fd: \d+ iterations, 2 fd callbacks", output);
    }

    [Fact]
    public void The_timers_sample_runs_a_timer_a_bottom_half_a_one_shot_and_InvokeAsync_on_the_loop()
    {
        string output = Run("timers");
        Assert.Contains("timers: timer fired after at least 20 ms", output);
        Assert.Contains("timers: bottom half ran on the loop: True", output);
        Assert.Contains("timers: one-shot ran on thread 'timers'", output);
        Assert.Contains("timers: InvokeAsync resumed on the loop after an await: True", output);
        Assert.Contains("timers: periodic timer ticked 3 times", output);
        Assert.Contains("timers: state overloads gave 84; cancelled before it ran: True", output);
    }

    [Fact]
    public void The_ring_sample_completes_AddSqe_SubmitAsync_and_a_hand_driven_read()
    {
        string output = Run("ring");
        if (!MonitorKinds.IoUringAvailable)
        {
            Assert.Contains("ring: no io_uring here", output);
            return;
        }

        Assert.Contains("ring: NOP completed with 0", output);
        Assert.Contains("ring: READ returned 21: 'read through the ring'", output);
        Assert.Contains("ring: hand-driven loop read 4 bytes: 'read'", output);
        Assert.Contains("ring: Run returned once its token was cancelled: True", output);
    }

    [Fact]
    public void The_sockets_sample_echoes_over_loopback()
    {
        Assert.Contains("sockets: echoed 'ping'", Run("sockets"));
    }

    [Fact]
    public void The_glib_sample_runs_a_timer_and_a_ring_request_under_g_main_context_iteration()
    {
        string output = Run("glib");
        Assert.Contains("glib: Aio timer fired inside g_main_context_iteration", output);
        if (MonitorKinds.IoUringAvailable)
        {
            Assert.Contains("glib: io_uring NOP completed under GLib with 0", output);
        }
    }

    [Fact]
    public void The_hosting_sample_keeps_the_loops_up_until_every_hosted_service_stopped()
    {
        string output = Run("hosting");
        Assert.Contains("hosting: hosted service ran work on loop 'aio-", output);
        Assert.Contains("hosting: 2 loops running", output);
        Assert.Contains("hosting: loops still up in StopAsync: True", output);
    }

    [Fact]
    public void The_kestrel_sample_answers_a_GET_served_on_the_loops()
    {
        // Loop mode: the handler runs on the connection's loop thread, named after the transport's group (without
        // io_uring Sockets serves, on a pool thread).
        Assert.Matches(MonitorKinds.IoUringAvailable ? @"kestrel: GET /hello -> 'Hello from aio-kestrel-[01]'" : "kestrel: GET /hello -> 'Hello from ", Run("kestrel"));
    }

    [Aio.Tests.Nbd.NbdToolFact("nbdinfo")]
    public void The_nbd_sample_serves_a_file_whose_size_nbdinfo_reads()
    {
        string output = Run("nbd");
        Assert.Contains("nbd: serving nbd+unix:///disk?socket=", output);
        Assert.Contains("nbd: nbdinfo --size says 1048576", output);
    }
}
