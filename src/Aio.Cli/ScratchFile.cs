using System.Buffers;

namespace Aio.Cli;

/// <summary>A benchmark file created in the current directory, filled with data, deleted on dispose (and on Ctrl-C, even mid-fill).</summary>
internal sealed class ScratchFile : IDisposable
{
    private int _deleted;

    private ScratchFile(string path) => Path = path;

    public string Path { get; }

    /// <summary>
    /// Creates and fills the file; <paramref name="done"/> reports it when created. On a terminal, the fill shows
    /// its progress. Cancelling <paramref name="ct"/> stops the fill and deletes the file
    /// (<see cref="OperationCanceledException"/>). <paramref name="created"/> gets the file before the fill starts, for a
    /// signal handler that must delete it whatever the fill is doing.
    /// </summary>
    public static ScratchFile Create(long size, Action<string>? done, CancellationToken ct = default, Action<ScratchFile>? created = null)
    {
        string path = System.IO.Path.Combine(Environment.CurrentDirectory, $"aio-bench-{Environment.ProcessId}.dat");
        // Created before this process owns anything: if the name is taken (another run's file), it is not ours to
        // delete.
        var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        var file = new ScratchFile(path);
        created?.Invoke(file);
        try
        {
            using var _ = stream;
            var chunk = ArrayPool<byte>.Shared.Rent(1 << 20);
            long written = 0;
            using (StatusLine.ForFill(path, () => Volatile.Read(ref written), size))
            {
                try
                {
                    var rng = new Random(42);
                    rng.NextBytes(chunk);
                    while (written < size)
                    {
                        ct.ThrowIfCancellationRequested();

                        // Real data, so no file system can keep it sparse; vary it cheaply per chunk.
                        chunk[0] = (byte)(written >> 20);
                        int n = (int)Math.Min(chunk.Length, size - written);
                        stream.Write(chunk, 0, n);

                        // Read by the status line's timer thread.
                        Volatile.Write(ref written, written + n);
                    }

                    stream.Flush(flushToDisk: true);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(chunk);
                }
            }

            done?.Invoke($"created {path} ({Units.FormatSize(size)})");
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Deletes the file whatever <see cref="Dispose"/> has done: for a process about to be killed, whose own delete may
    /// be the call that is stuck. Errors are ignored.
    /// </summary>
    public void DeleteNow()
    {
        Volatile.Write(ref _deleted, 1);
        try
        {
            File.Delete(Path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
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
