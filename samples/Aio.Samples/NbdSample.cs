using System.Diagnostics;
using System.Net.Sockets;
using Aio.Nbd;

namespace AioSamples;

/// <summary>
/// A file served over NBD on a Unix socket (<see cref="NbdServer"/>, <see cref="NbdServerOptions"/>,
/// <see cref="NbdExportOptions"/>); when libnbd's <c>nbdinfo</c> is installed, it reads the export's size back.
/// </summary>
internal static class NbdSample
{
    public static async Task RunAsync()
    {
        string dir = Directory.CreateTempSubdirectory("aio-nbd-sample").FullName;
        try
        {
            string image = Path.Combine(dir, "disk.img");
            using (var file = File.Create(image))
            {
                file.SetLength(1 << 20);                         // 1 MiB, sparse
            }

            string socket = Path.Combine(dir, "nbd.sock");
            await using var server = NbdServer.Start(new NbdServerOptions
            {
                Exports = [new NbdExportOptions { Path = image, Name = "disk", Direct = false }],
                Listen = [new UnixDomainSocketEndPoint(socket)],
                Threads = 1,                                     // loops serving connections
            });
            string uri = $"nbd+unix:///disk?socket={socket}";
            Console.WriteLine($"nbd: serving {uri}");

            // Any NBD client works from here: qemu-io, qemu-img, nbdcopy, the kernel's nbd-client, fio.
            if (await RunAsync("nbdinfo", "--size", uri) is { } size)
            {
                Console.WriteLine($"nbd: nbdinfo --size says {size.Trim()}");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Runs a client tool and returns its output, or null when it is not installed.</summary>
    private static async Task<string?> RunAsync(string tool, params string[] args)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(tool, args) { RedirectStandardOutput = true })!;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                string output = await process.StandardOutput.ReadToEndAsync(timeout.Token);
                await process.WaitForExitAsync(timeout.Token);
                return process.ExitCode == 0 ? output : null;
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{tool} did not finish within 30 s");
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
