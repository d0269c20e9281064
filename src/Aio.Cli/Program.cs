using System.CommandLine;
using System.Globalization;
using System.Reflection;
using Aio.Nbd.Interop;

namespace Aio.Cli;

/// <summary>The <c>aio</c> command: <c>bench</c>, <c>iotest</c> and <c>probe</c>.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        // A plain command named "aio" rather than a RootCommand, whose name is the entry assembly's ("Aio.Cli"): usage
        // lines then say what people type, installed as a tool or not.
        var root = new Command("aio", "aio - QEMU's AioContext event loop for .NET, io_uring first")
        {
            new System.CommandLine.Help.HelpOption(),
            new VersionOption(),
            BenchCommand(),
            IoTestCommand(),
            ProbeCommand(),
            Nbd.NbdCommands.Nbd(),
        };

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // An unknown option is the news, even where the parser also misses a command it then cannot find.
            var error = parsed.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parsed.Errors[0];
            Console.Error.WriteLine("aio: " + Describe(error));
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
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Never a stack trace: one line saying what failed. AIO_DEBUG=1 shows the whole exception.
            Console.Error.WriteLine("aio: " + (Environment.GetEnvironmentVariable("AIO_DEBUG") == "1" ? ex.ToString() : OneLine(ex)));
            return 1;
        }
    }

    /// <summary>A parse error in the words of the tools people know: "unknown option" for a dash word nothing takes.</summary>
    private static string Describe(System.CommandLine.Parsing.ParseError error)
    {
        string message = error.Message;
        const string Unrecognized = "Unrecognized command or argument '";
        if (message.StartsWith(Unrecognized, StringComparison.Ordinal) && message.Length > Unrecognized.Length + 1)
        {
            string token = message[Unrecognized.Length..message.LastIndexOf('\'')];
            return token.StartsWith('-') ? $"unknown option '{token}'" : $"unexpected argument '{token}'";
        }

        // "as expected type 'System.Int32'" (or 'System.Nullable`1[System.Int32]', an option without a default)
        // speaks .NET, not the command line.
        var number = System.Text.RegularExpressions.Regex.Match(message, @"^Cannot parse argument '(.*)' for option '(.*)' as expected type 'System\.(?:Nullable`1\[System\.)?(U?Int\d+|Double)\]?'");
        if (number.Success)
        {
            return $"{number.Groups[2].Value}: '{number.Groups[1].Value}' is not a {(number.Groups[3].Value == "Double" ? "number" : "whole number")}";
        }

        // A bad choice lists the choices on lines of their own: one line, as every other message.
        return string.Join(' ', message.Split(['\r', '\n', '\t', ' '], StringSplitOptions.RemoveEmptyEntries));
    }

    private static string OneLine(Exception ex)
    {
        var inner = ex is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerException! : ex;
        return inner.Message.ReplaceLineEndings(" ");
    }

    /// <summary>The version printed by <c>--version</c>.</summary>
    public static string Version => typeof(AioException).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    private static Command BenchCommand()
    {
        var file = new Argument<string?>("FILE") { Description = "File or block device (default: a temporary file of --offset + --size in the current directory, deleted at the end)", Arity = ArgumentArity.ZeroOrOne };
        var rw = new Option<string>("--rw") { Description = "randread, randwrite, randrw, read, write or rw (sequential mixed)", DefaultValueFactory = _ => "randread" };
        rw.AcceptOnlyFromAmong("randread", "randwrite", "randrw", "read", "write", "rw");
        var rwmixread = new Option<int>("--rwmixread") { Description = "Percentage of reads for randrw and rw", DefaultValueFactory = _ => 50 };
        var bs = new Option<string>("--bs") { Description = "Block size", DefaultValueFactory = _ => "4k" };
        var iodepth = new Option<int>("--iodepth") { Description = "Requests in flight per loop", DefaultValueFactory = _ => 32 };
        var offset = new Option<string>("--offset") { Description = "Start of the region in the file", DefaultValueFactory = _ => "0" };
        var size = new Option<string?>("--size") { Description = "Length of the region [default: the rest of FILE; 1g for the temporary file]" };
        var runtime = new Option<string>("--runtime") { Description = "How long to measure", DefaultValueFactory = _ => "10s" };
        var rampTime = new Option<string>("--ramp-time") { Description = "Run this long before measuring", DefaultValueFactory = _ => "0s" };
        var direct = new Option<bool>("--direct") { Description = "O_DIRECT, bypassing the page cache (--direct false: through it) [default: true]", DefaultValueFactory = _ => true };
        var verify = new Option<bool>("--verify") { Description = "Write a pattern, read back the blocks written and check them (exit code 3 on a mismatch)" };
        var engine = new Option<string>("--engine") { Description = "io_uring (falls back to threads without io_uring), threads, or randomaccess (.NET RandomAccess on the thread pool)", DefaultValueFactory = _ => "io_uring" };
        engine.AcceptOnlyFromAmong("io_uring", "threads", "randomaccess");
        var monitor = new Option<string?>("--monitor") { Description = "poll, epoll or io_uring [default: io_uring, falling back to poll]" };
        monitor.AcceptOnlyFromAmong("poll", "epoll", "io_uring");
        var threads = new Option<int>("--threads", "--numjobs") { Description = "Number of IoThreads, each with its own queue (fio: numjobs)", DefaultValueFactory = _ => 1 };
        var maxBatch = new Option<long>("--max-batch") { Description = "aio-max-batch: submit after this many queued requests (0 = the loop's default)", DefaultValueFactory = _ => 0 };
        var pollMaxNs = new Option<long?>("--poll-max-ns") { Description = "Busy-poll ceiling of each loop in ns, QEMU's poll-max-ns (0 = never poll) [default: 32768]" };
        var cpusAllowed = new Option<string?>("--cpus-allowed") { Description = "Pin each loop thread to these CPUs (fio's cpus_allowed: 1, 0-3, 0,2), and the fio and C loop rows with them" };
        var compare = new Option<bool>("--compare") { Description = "Also run randomaccess, fio (io_uring engine) and uring_randread (a C loop) on the same file, where installed" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("bench", "fio-style benchmark on the loop")
        {
            file, rw, rwmixread, bs, iodepth, offset, size, runtime, rampTime, direct, verify, engine, monitor, threads, maxBatch, pollMaxNs, cpusAllowed, compare, json,
            Net.NetCommands.Bench(), Net.NetCommands.Server(), Net.NetCommands.Load(),
        };
        cmd.SetAction(r =>
        {
            var o = new BenchOptions
            {
                File = RequireNotOption(r.GetValue(file)),
                Rw = r.GetValue(rw)!,
                RwMixRead = r.GetValue(rwmixread),
                BlockSize = Units.ParseIntSize(r.GetValue(bs)!, "--bs"),
                IoDepth = r.GetValue(iodepth),
                Offset = Units.ParseSize(r.GetValue(offset)!, "--offset", allowZero: true),
                Size = r.GetValue(size) is { } s ? Units.ParseSize(s, "--size") : null,
                Runtime = Units.ParseDuration(r.GetValue(runtime)!, "--runtime"),
                RampTime = Units.ParseDuration(r.GetValue(rampTime)!, "--ramp-time", allowZero: true),
                Direct = r.GetValue(direct),
                Verify = r.GetValue(verify),
                Engine = r.GetValue(engine)!,
                Monitor = ParseMonitor(r.GetValue(monitor)),
                Threads = r.GetValue(threads),
                Json = r.GetValue(json),
                MaxBatch = r.GetValue(maxBatch),
                PollMaxNs = r.GetValue(pollMaxNs),
                CpusAllowed = r.GetValue(cpusAllowed) is { } cpus ? CpuList.Parse(cpus, "--cpus-allowed") : null,
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

            string? path = RequireNotOption(r.GetValue(file));
            var kind = ParseMonitor(r.GetValue(monitor));

            // SIGINT/SIGTERM stop the fill or the reads, so that the scratch file is deleted on the way out; a second
            // one deletes it and ends the process at once (a read stuck on a bad device checks no token).
            using var cancel = new Interrupts();
            double elapsed, ideal, slept;
            try
            {
                using var scratch = path is null ? ScratchFile.Create(bytes, r.GetValue(json) ? null : Output.Line, cancel.Token, cancel.Own) : null;
                path ??= scratch!.Path;
                RequireFile(path);
                try
                {
                    (elapsed, ideal, slept) = IoTest.Run(path, bytes, kind, cancel.Token);
                }
                finally
                {
                    // The reads have ended, done or cancelled: only the file's delete is left.
                    cancel.Settle();
                }
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                Console.Error.WriteLine("aio: interrupted");
                return Bench.Interrupted;
            }

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

    /// <summary>
    /// An unknown "--word" lands in an optional FILE argument (the parser only rejects it once every argument is
    /// taken): said as what it is. A file whose name starts with a dash is still reachable as ./-name.
    /// </summary>
    internal static string? RequireNotOption(string? file)
        => file is not null && file.StartsWith('-') && file.Length > 1 ? throw new UsageException($"unknown option '{file}'") : file;

    internal static void RequireFile(string path)
    {
        // From stat, before any open: opening a named pipe would wait for a writer for ever (and a character device
        // has no blocks to measure). What stat cannot see (EACCES, say), open reports as before.
        uint? type = FileType.Of(path, out int errno);
        if (type is null)
        {
            if (errno is FileType.ENOENT or FileType.ENOTDIR)
            {
                throw new UsageException($"{path}: no such file");
            }

            return;
        }

        if (type == FileType.Directory)
        {
            throw new UsageException($"{path}: is a directory (give a file or a block device)");
        }

        if (type is not (FileType.Regular or FileType.BlockDevice))
        {
            throw new UsageException($"{path}: is not a regular file or a block device");
        }
    }
}
