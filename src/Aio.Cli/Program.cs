using System.Reflection;

namespace Aio.Cli;

/// <summary>The <c>aio</c> command. This foundation version prints its version and help; <c>bench</c> and <c>iotest</c> come later.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        string version = typeof(AioException).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        if (args.Length == 1 && args[0] is "--version")
        {
            Console.WriteLine(version);
            return 0;
        }

        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            Console.WriteLine($"aio {version} - QEMU's AioContext event loop for .NET, io_uring first");
            Console.WriteLine();
            Console.WriteLine("Usage: aio [--help] [--version] <command>");
            Console.WriteLine();
            Console.WriteLine("Commands:");
            Console.WriteLine("  probe     show the io_uring setup this kernel accepts");
            return 0;
        }

        if (args[0] is "probe")
        {
            return Probe.Run();
        }

        Console.Error.WriteLine($"aio: unknown command '{args[0]}' (try 'aio --help')");
        return 2;
    }
}
