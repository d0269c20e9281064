using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>
/// Every loop serves the file the export opened at start, whatever happens to its path afterwards: a loop that
/// opened the path again on its first request would serve another file once the path is renamed or replaced.
/// </summary>
public sealed class NbdExportIdentityTests
{
    private const ushort Write = 1;
    private const ushort Read = 0;
    private const ushort Flush = 3;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void After_the_path_is_replaced_every_connection_reads_and_writes_the_file_opened_at_start(bool direct)
    {
        using var server = new NbdTestServer(size: 1 << 20, direct: direct);
        // The original inode, kept open; the path then names a fresh file.
        using var original = new FileStream(server.ImagePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        string moved = server.ImagePath + ".old";
        File.Move(server.ImagePath, moved);
        using (var replacement = File.Create(server.ImagePath))
        {
            replacement.SetLength(1 << 20);
        }

        // Two loops: connections go round them, so two connections use both (the second loop's file is opened on
        // its first request, after the replacement).
        using var a = new RawNbdClient(server.SocketPath);
        using var b = new RawNbdClient(server.SocketPath);
        a.Negotiate(server.Name);
        b.Negotiate(server.Name);
        var patternA = Pattern(0xA1);
        var patternB = Pattern(0xB2);
        WriteAndFlush(a, 0, patternA);
        WriteAndFlush(b, 65536, patternB);

        // Each connection sees the other's write: one file behind both.
        Assert.Equal(patternB, ReadBack(a, 65536));
        Assert.Equal(patternA, ReadBack(b, 0));

        var onDisk = new byte[4096];
        original.ReadExactly(onDisk);
        Assert.Equal(patternA, onDisk);
        original.Position = 65536;
        original.ReadExactly(onDisk);
        Assert.Equal(patternB, onDisk);
        Assert.All(File.ReadAllBytes(server.ImagePath), v => Assert.Equal(0, v));
    }

    private static byte[] Pattern(byte seed)
    {
        var data = new byte[4096];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(seed + i);
        }

        return data;
    }

    private static void WriteAndFlush(RawNbdClient client, ulong offset, byte[] data)
    {
        client.SendRequest(0, Write, 1, offset, (uint)data.Length, data);
        Assert.Equal(0u, client.ReadSimpleReply().Error);
        client.SendRequest(0, Flush, 2, 0, 0);
        Assert.Equal(0u, client.ReadSimpleReply().Error);
    }

    private static byte[] ReadBack(RawNbdClient client, ulong offset)
    {
        client.SendRequest(0, Read, 3, offset, 4096);
        var (error, _, data) = client.ReadSimpleReply(4096);
        Assert.Equal(0u, error);
        return data;
    }
}
