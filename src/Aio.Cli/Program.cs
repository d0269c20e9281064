using System.CommandLine;
using System.Globalization;
using System.Reflection;

namespace Aio.Cli;

/// <summary>The <c>aio</c> command: <c>bench</c>, <c>iotest</c> and <c>probe</c>.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var root = new RootCommand("aio - QEMU's AioContext event loop for .NET, io_uring first")
        {
            BenchCommand(),
            IoTestCommand(),
            ProbeCommand(),
            Nbd.NbdCommands.Nbd(),
        };

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            Console.Error.WriteLine("aio: " + parsed.Errors[0].Message);
            return 2;
        }

        try
        {
            return parsed.Invoke(new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,

                // Ctrl-C is ours: bench stops its workers and deletes its scratch file (see Bench.Run).
                ProcessTerminationTimeout = null,
            });
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine("aio: " + ex.Message);
            return 2;
        }
        catch (AioException ex)
        {
            Console.Error.WriteLine("aio: " + ex.Message);
            return 1;
        }
    }

    /// <summary>The version printed by <c>--version</c>.</summary>
    public static string Version => typeof(AioException).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    private static Command BenchCommand()
    {
        var file = new Argument<string?>("FILE") { Description = "File or block device to read (default: a temporary file of --size in the current directory)", Arity = ArgumentArity.ZeroOrOne };
        var rw = new Option<string>("--rw") { Description = "randread, randwrite, read or write", DefaultValueFactory = _ => "randread" };
        rw.AcceptOnlyFromAmong("randread", "randwrite", "read", "write");
        var bs = new Option<string>("--bs") { Description = "Block size", DefaultValueFactory = _ => "4k" };
        var iodepth = new Option<int>("--iodepth") { Description = "Requests in flight per loop", DefaultValueFactory = _ => 32 };
        var size = new Option<string>("--size") { Description = "Size of the temporary file", DefaultValueFactory = _ => "1g" };
        var runtime = new Option<string>("--runtime") { Description = "How long to run", DefaultValueFactory = _ => "10s" };
        var direct = new Option<bool>("--direct") { Description = "O_DIRECT (bypass the page cache)", DefaultValueFactory = _ => true };
        var engine = new Option<string>("--engine") { Description = "io_uring, threads, or randomaccess (.NET RandomAccess on the thread pool)", DefaultValueFactory = _ => "io_uring" };
        engine.AcceptOnlyFromAmong("io_uring", "threads", "randomaccess");
        var monitor = new Option<string?>("--monitor") { Description = "poll, epoll or io_uring (default: io_uring, falling back)" };
        monitor.AcceptOnlyFromAmong("poll", "epoll", "io_uring");
        var threads = new Option<int>("--threads") { Description = "Number of IoThreads, each with its own queue", DefaultValueFactory = _ => 1 };
        var maxBatch = new Option<long>("--max-batch") { Description = "aio-max-batch: submit after this many queued requests (0 = the default, 4)" };
        var compare = new Option<bool>("--compare") { Description = "Also run randomaccess and fio (io_uring engine, if installed) on the same file" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("bench", "fio-style benchmark on the loop") { file, rw, bs, iodepth, size, runtime, direct, engine, monitor, threads, maxBatch, compare, json, Net.NetCommands.Bench(), Net.NetCommands.Server(), Net.NetCommands.Load() };
        cmd.SetAction(r =>
        {
            var o = new BenchOptions
            {
                File = r.GetValue(file),
                Rw = r.GetValue(rw)!,
                BlockSize = (int)Math.Min(int.MaxValue, Units.ParseSize(r.GetValue(bs)!, "--bs")),
                IoDepth = r.GetValue(iodepth),
                Size = Units.ParseSize(r.GetValue(size)!, "--size"),
                Runtime = Units.ParseDuration(r.GetValue(runtime)!, "--runtime"),
                Direct = r.GetValue(direct),
                Engine = r.GetValue(engine)!,
                Monitor = ParseMonitor(r.GetValue(monitor)),
                Threads = r.GetValue(threads),
                Json = r.GetValue(json),
                MaxBatch = r.GetValue(maxBatch),
            };
            return Bench.Run(o, r.GetValue(compare));
        });
        return cmd;
    }

    private static Command IoTestCommand()
    {
        var file = new Argument<string?>("FILE") { Description = "File or block device (default: a temporary file of --size)", Arity = ArgumentArity.ZeroOrOne };
        var size = new Option<string>("--size") { Description = "How much to read", DefaultValueFactory = _ => "128m" };
        var monitor = new Option<string?>("--monitor") { Description = "poll, epoll or io_uring" };
        monitor.AcceptOnlyFromAmong("poll", "epoll", "io_uring");
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("iotest", "seed 002's scenario: 128 KiB O_DIRECT reads in batches of 16 with 1 ms pauses, submitted from a thread that is not the loop's") { file, size, monitor, json };
        cmd.SetAction(r =>
        {
            long bytes = Units.ParseSize(r.GetValue(size)!, "--size");
            if (bytes < IoTest.RequestSize)
            {
                throw new UsageException($"--size must be at least {Units.FormatSize(IoTest.RequestSize)}");
            }

            string? path = r.GetValue(file);
            using var scratch = path is null ? ScratchFile.Create(bytes, r.GetValue(json) ? null : Output.Line) : null;
            path ??= scratch!.Path;
            RequireFile(path);
            var (elapsed, ideal, slept) = IoTest.Run(path, bytes, ParseMonitor(r.GetValue(monitor)));
            double ratio = elapsed / ideal;
            var inv = CultureInfo.InvariantCulture;
            if (r.GetValue(json))
            {
                Console.WriteLine($"{{\"elapsed\":{elapsed.ToString("0.####", inv)},\"ideal\":{ideal.ToString("0.####", inv)},\"ratio\":{ratio.ToString("0.####", inv)},\"slept\":{slept.ToString("0.####", inv)}}}");
            }
            else
            {
                Console.WriteLine($"elapsed {elapsed.ToString("0.000", inv)} s");
                Console.WriteLine($"ideal   {ideal.ToString("0.000", inv)} s");
                Console.WriteLine($"ratio   {ratio.ToString("0.000", inv)}");
                Console.WriteLine($"slept   {slept.ToString("0.000", inv)} s (the pauses as the OS delivered them; elapsed - slept is I/O and wake-up time)");
            }

            return 0;
        });
        return cmd;
    }

    private static Command ProbeCommand()
    {
        var cmd = new Command("probe", "show the io_uring setup this kernel accepts and the monitor a context gets");
        cmd.SetAction(_ => Probe.Run());
        return cmd;
    }

    internal static FdMonitorKind? ParseMonitor(string? value) => value switch
    {
        null => null,
        "poll" => FdMonitorKind.Poll,
        "epoll" => FdMonitorKind.Epoll,
        _ => FdMonitorKind.IoUring,
    };

    internal static void RequireFile(string path)
    {
        if (!File.Exists(path) && !path.StartsWith("/dev/", StringComparison.Ordinal))
        {
            throw new UsageException($"{path}: no such file");
        }
    }
}
