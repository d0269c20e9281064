using System.CommandLine;
using System.Runtime.InteropServices;

namespace Aio.Cli.Net;

/// <summary><c>aio bench net</c>, and the two hidden processes it starts (the server and the load generator).</summary>
internal static class NetCommands
{
    public static Command Bench()
    {
        var connections = new Option<int>("--connections") { Description = "Client connections for the echo workloads", DefaultValueFactory = _ => 64 };
        var sizes = new Option<string>("--sizes") { Description = "Echo message sizes, comma-separated", DefaultValueFactory = _ => "64,1k,16k" };
        var stream = new Option<string>("--stream") { Description = "Write size of the streaming run (0: none)", DefaultValueFactory = _ => "1m" };
        var loops = new Option<int>("--loops") { Description = "Server loops (IoThreads)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var runtime = new Option<string>("--runtime") { Description = "Measured time per run", DefaultValueFactory = _ => "5s" };
        var warmup = new Option<string>("--warmup") { Description = "Unmeasured time before each run", DefaultValueFactory = _ => "1s" };
        var rounds = new Option<int>("--rounds") { Description = "Interleaved rounds (aio, sockets, sockets, aio, ...)", DefaultValueFactory = _ => 3 };
        var cmd = new Command("net", "echo server on Aio's loops against the same server on System.Net.Sockets, load from a separate process") { connections, sizes, stream, loops, runtime, warmup, rounds };
        cmd.SetAction(r =>
        {
            if (r.CommandResult.Parent is System.CommandLine.Parsing.CommandResult bench)
            {
                // `aio bench FILE --runtime 1s net` parses, and the words before "net" are bench's, which net ignores.
                string? given = bench.Tokens.Count > 0 ? bench.Tokens[0].Value
                    : bench.Children.OfType<System.CommandLine.Parsing.OptionResult>().FirstOrDefault(o => !o.Implicit)?.IdentifierToken?.Value;
                if (given is not null)
                {
                    throw new UsageException($"'{given}' before 'net' belongs to bench; give net's options after 'net'");
                }
            }

            var o = new NetBenchOptions
            {
                Connections = Positive(r.GetValue(connections), "--connections"),
                Sizes = r.GetValue(sizes)!.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => EchoSize(Units.ParseIntSize(s, "--sizes"))).ToList(),
                StreamSize = r.GetValue(stream)!.Trim() == "0" ? 0 : StreamSize(Units.ParseIntSize(r.GetValue(stream)!, "--stream")),
                Loops = Positive(r.GetValue(loops), "--loops"),
                Runtime = Units.ParseDuration(r.GetValue(runtime)!, "--runtime"),
                Warmup = Units.ParseDuration(r.GetValue(warmup)!, "--warmup"),
                Rounds = Positive(r.GetValue(rounds), "--rounds"),
            };
            if (o.Sizes.Count == 0 && o.StreamSize == 0)
            {
                throw new UsageException("nothing to measure: --sizes is empty and --stream is 0");
            }

            return NetBench.Run(o);
        });
        return cmd;
    }

    public static Command Server()
    {
        var server = new Option<string>("--server") { DefaultValueFactory = _ => "aio" };
        var loops = new Option<int>("--loops") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var port = new Option<int>("--port");
        var cmd = new Command("net-server", "the echo server of bench net (until stdin closes)") { server, loops, port };
        cmd.Hidden = true;
        cmd.SetAction(r =>
        {
            using var stop = new CancellationTokenSource();
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
            {
                c.Cancel = true;
                stop.Cancel();
            });
            var watcher = new Thread(() =>
            {
                while (Console.In.Read() >= 0)
                {
                }

                stop.Cancel();
            }) { IsBackground = true };
            watcher.Start();
            return EchoServers.Run(r.GetValue(server)!, r.GetValue(loops), r.GetValue(port), stop.Token);
        });
        return cmd;
    }

    public static Command Load()
    {
        var port = new Option<int>("--port");
        var connections = new Option<int>("--connections") { DefaultValueFactory = _ => 64 };
        var size = new Option<int>("--size") { DefaultValueFactory = _ => 64 };
        var warmup = new Option<string>("--warmup") { DefaultValueFactory = _ => "1s" };
        var runtime = new Option<string>("--runtime") { DefaultValueFactory = _ => "5s" };
        var cmd = new Command("net-load", "the load generator of bench net") { port, connections, size, warmup, runtime };
        cmd.Hidden = true;
        cmd.SetAction(r => EchoLoad.Run(r.GetValue(port), r.GetValue(connections), r.GetValue(size),
            Units.ParseDuration(r.GetValue(warmup)!, "--warmup"), Units.ParseDuration(r.GetValue(runtime)!, "--runtime")));
        return cmd;
    }

    /// <summary>The load generator streams writes of 1 MiB and more instead of echoing them (see EchoLoad).</summary>
    private static int EchoSize(int size)
        => size < EchoLoad.StreamThreshold ? size : throw new UsageException($"--sizes: echo messages must be smaller than {Units.FormatSize(EchoLoad.StreamThreshold)} (--stream measures larger writes)");

    private static int StreamSize(int size)
        => size >= EchoLoad.StreamThreshold ? size : throw new UsageException($"--stream: at least {Units.FormatSize(EchoLoad.StreamThreshold)} (0 for none; smaller messages are --sizes)");

    private static int Positive(int value, string option)
        => value > 0 ? value : throw new UsageException($"{option} must be positive");
}
