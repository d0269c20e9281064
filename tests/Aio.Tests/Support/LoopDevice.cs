using System.Diagnostics;

namespace Aio.Tests.Support;

/// <summary>
/// A loop block device (losetup) over a scratch file, detached on dispose: a real block device for tests that need
/// one. Needs root and a kernel with loop devices; <see cref="TryCreate"/> says why not otherwise.
/// </summary>
public sealed class LoopDevice : IDisposable
{
    private readonly TempDir _dir;

    private LoopDevice(TempDir dir, string path, string backing)
    {
        _dir = dir;
        Path = path;
        BackingFile = backing;
    }

    /// <summary>The device node (/dev/loopN).</summary>
    public string Path { get; }

    /// <summary>The file the device reads and writes.</summary>
    public string BackingFile { get; }

    /// <summary>The device's name in /sys/block (loopN).</summary>
    public string Name => System.IO.Path.GetFileName(Path);

    /// <summary>
    /// Attaches a device of <paramref name="size"/> bytes (zeros), with logical blocks of <paramref name="sectorSize"/>
    /// bytes (0: losetup's default, 512), or returns null with the reason.
    /// </summary>
    public static LoopDevice? TryCreate(long size, out string why, int sectorSize = 0)
    {
        why = "";
        if (Environment.UserName != "root")
        {
            why = "needs root";
            return null;
        }

        var dir = new TempDir();
        string backing = System.IO.Path.Combine(dir.Path, "device.img");
        using (var f = File.Create(backing))
        {
            f.SetLength(size);
        }

        var (code, stdout, stderr) = sectorSize > 0
            ? Run("losetup", "--find", "--show", "--sector-size", sectorSize.ToString(System.Globalization.CultureInfo.InvariantCulture), backing)
            : Run("losetup", "--find", "--show", backing);
        string path = stdout.Trim();
        if (code != 0 || !path.StartsWith("/dev/loop", StringComparison.Ordinal))
        {
            dir.Dispose();
            why = $"losetup failed ({code}): {stderr.Trim()}";
            return null;
        }

        return new LoopDevice(dir, path, backing);
    }

    public void Dispose()
    {
        _ = Run("losetup", "--detach", Path);
        _dir.Dispose();
    }

    private static (int Code, string Stdout, string Stderr) Run(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        try
        {
            using var process = Process.Start(psi)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(20_000))
            {
                process.Kill();
                return (-1, "", program + " did not finish within 20 s");
            }

            return (process.ExitCode, stdout.Result, stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (-1, "", ex.Message);
        }
    }
}
