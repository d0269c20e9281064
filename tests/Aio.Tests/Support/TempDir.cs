namespace Aio.Tests.Support;

/// <summary>A directory under the system temp dir, removed with everything in it on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "aio-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>A file of <paramref name="length"/> deterministic pseudo-random bytes; returns its path and content.</summary>
    public (string Path, byte[] Content) CreateFile(string name, int length, int seed = 42)
    {
        var content = new byte[length];
        new Random(seed).NextBytes(content);
        string path = System.IO.Path.Combine(Path, name);
        File.WriteAllBytes(path, content);
        return (path, content);
    }

    /// <summary>
    /// As <see cref="CreateFile"/>, then fsync'd: an O_DIRECT read of a page still dirty in the page cache must first
    /// write it back (io_uring hands such a read to an io-wq worker), and right after a build the device's queue is
    /// full of other files' write-back, so each first read could take tens of milliseconds.
    /// </summary>
    public (string Path, byte[] Content) CreateDurableFile(string name, int length, int seed = 42)
    {
        var created = CreateFile(name, length, seed);
        using (var stream = new FileStream(created.Path, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Flush(flushToDisk: true);
        }

        return created;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
