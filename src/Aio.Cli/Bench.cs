using System.Runtime.InteropServices;

namespace Aio.Cli;

/// <summary><c>aio bench</c>: validates, prepares the file, runs the engines, prints.</summary>
internal static class Bench
{
    public static int Run(BenchOptions o, bool compare)
    {
        if (o.IoDepth is < 1 or > 4096)
        {
            throw new UsageException("--iodepth must be between 1 and 4096");
        }

        if (o.Threads is < 1 or > 64)
        {
            throw new UsageException("--threads must be between 1 and 64");
        }

        if (o.MaxBatch < 0)
        {
            throw new UsageException("--max-batch must not be negative");
        }

        if (o.Direct && o.BlockSize % 512 != 0)
        {
            throw new UsageException($"--bs {o.BlockSize} is not a multiple of 512, which --direct needs");
        }

        if (o.File is not null)
        {
            Program.RequireFile(o.File);
        }

        using var cancel = new CancellationTokenSource();
        using var scratch = o.File is null ? ScratchFile.Create(Math.Max(o.Size, o.BlockSize), o.Json ? null : Output.Line) : null;
        string path = o.File ?? scratch!.Path;
        // SIGINT (Ctrl-C) and SIGTERM: stop the workers, print what was measured, let the finally blocks delete the
        // scratch file.
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        try
        {
            var results = new List<BenchResult> { Live(o, o.Engine, () => BenchRunner.Run(o, path, cancel.Token)) };
            if (compare)
            {
                if (o.Engine != "randomaccess")
                {
                    results.Add(Live(o, "randomaccess", () => BenchRunner.Run(o with { Engine = "randomaccess" }, path, cancel.Token)));
                }

                if (FioRunner.Available && Live(o, "fio", () => FioRunner.Run(o, path, "io_uring")!) is { } fio)
                {
                    results.Add(fio);
                }
                else if (!o.Json)
                {
                    Output.Line("fio is not installed (apt-get install fio): no fio comparison");
                }
            }

            Output.Bench(o, results, o.Json);
            return 0;
        }
        finally
        {
            cancel.Cancel();
        }

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            cancel.Cancel();
        }
    }

    /// <summary>On a terminal, a live status line while one engine runs; plain otherwise.</summary>
    private static BenchResult Live(BenchOptions o, string engine, Func<BenchResult> run)
    {
        if (o.Json || !Output.Fancy)
        {
            return run();
        }

        return Spectre.Console.AnsiConsole.Status().Start(
            $"{engine}: {o.Rw} bs={Units.FormatSize(o.BlockSize)} iodepth={o.IoDepth} for {o.Runtime.TotalSeconds:0.##} s ...",
            _ => run());
    }
}
