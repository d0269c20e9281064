using Aio;

namespace AioSamples;

/// <summary>An <see cref="IoThread"/>, a <see cref="BlockFile"/> opened with O_DIRECT, and <see cref="AlignedBuffer"/>.</summary>
internal static class BlockFileSample
{
    public static async Task RunAsync()
    {
        string path = Path.GetFullPath("aio-sample.img");
        File.WriteAllBytes(path, new byte[1024 * 1024]);
        try
        {
            await ReadAndWriteAsync(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task ReadAndWriteAsync(string path)
    {
        using var io = IoThread.Start("disk");                        // a loop on a thread of its own
        await using var file = BlockFile.Open(io.Context, path, new BlockFileOptions { Direct = true });
        using var buffer = new AlignedBuffer(4096, file.Alignment);   // O_DIRECT: aligned native memory

        buffer.GetSpan().Fill(0xA5);
        await file.WriteAsync(buffer.Memory, offset: 8192);           // from any thread; the loop submits it
        await file.FlushAsync();

        buffer.GetSpan().Clear();
        int n = await file.ReadAsync(buffer.Memory, offset: 8192);
        Console.WriteLine($"blockfile: read {n} bytes, first byte 0x{buffer.GetSpan()[0]:X2}, engine {file.Engine}");
    }
}
