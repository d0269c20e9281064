using System.Buffers;

namespace Aio.Cli;

/// <summary>A benchmark file created in the current directory, filled with data, deleted on dispose (and on Ctrl-C).</summary>
internal sealed class ScratchFile : IDisposable
{
    private int _deleted;

    private ScratchFile(string path) => Path = path;

    public string Path { get; }

    public static ScratchFile Create(long size, Action<string>? progress)
    {
        string path = System.IO.Path.Combine(Environment.CurrentDirectory, $"aio-bench-{Environment.ProcessId}.dat");
        var file = new ScratchFile(path);
        try
        {
            using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
            var chunk = ArrayPool<byte>.Shared.Rent(1 << 20);
            try
            {
                var rng = new Random(42);
                rng.NextBytes(chunk);
                for (long done = 0; done < size; done += chunk.Length)
                {
                    // Real data, so no file system can keep it sparse; vary it cheaply per chunk.
                    chunk[0] = (byte)(done >> 20);
                    stream.Write(chunk, 0, (int)Math.Min(chunk.Length, size - done));
                }

                stream.Flush(flushToDisk: true);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }

            progress?.Invoke($"created {path} ({Units.FormatSize(size)})");
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _deleted, 1) == 0)
        {
            try
            {
                File.Delete(Path);
            }
            catch (IOException)
            {
            }
        }
    }
}
