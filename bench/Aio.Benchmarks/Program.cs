using BenchmarkDotNet.Running;

namespace Aio.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project bench/Aio.Benchmarks -- --filter '*'</c> runs the BenchmarkDotNet suite;
/// <c>-- figures</c> prints the polling figures (ping-pong with polling on and off, idle CPU, 100 idle handlers).
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "figures")
        {
            return PollingFigures.Run(args.Length > 1 ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5);
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
