using Aio.Nbd;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>
/// An O_DIRECT export of a device with 8 KiB logical blocks: the server's payload buffers are page-aligned, which the
/// device's memory alignment (512) accepts though its offset alignment is 8 KiB.
/// </summary>
public class NbdDeviceAlignmentTests
{
    [LoopDeviceFact(SectorSize = 8192)]
    public void An_O_DIRECT_export_of_a_device_with_8_KiB_blocks_serves_aligned_and_unaligned_requests()
    {
        const int Size = 4 << 20;
        using var device = LoopDevice.TryCreate(Size, out string why, sectorSize: 8192);
        Assert.True(device is not null, why);
        using var server = new NbdTestServer(configure: o => o with { Exports = [new NbdExportOptions { Path = device!.Path }] });
        using var client = new RawNbdClient(server.SocketPath);
        Assert.Equal((ulong)Size, client.Negotiate().Size);

        // Payloads of 8-64 KiB come from several of the pool's size classes, whose buffers are 4 KiB-aligned: about
        // half of them are not on an 8 KiB boundary. Every fourth request is off the blocks (read-modify-write).
        var expected = new byte[Size];
        var random = new Random(8192);
        for (ulong cookie = 1; cookie <= 96; cookie += 2)
        {
            bool aligned = cookie % 8 != 1;
            int length = aligned ? 8192 * random.Next(1, 9) : 512 * random.Next(1, 40);
            long offset = aligned ? 8192L * random.Next(0, (Size / 8192) - 8) : 512L * random.Next(0, (Size / 512) - 40);
            var data = new byte[length];
            random.NextBytes(data);
            client.SendRequest(0, NbdProtocol.CmdWrite, cookie, (ulong)offset, (uint)length, data);
            var written = client.ReadSimpleReply();
            Assert.True(written.Error == 0, $"WRITE of {length} at {offset}: error {written.Error}");
            data.CopyTo(expected, offset);

            client.SendRequest(0, NbdProtocol.CmdRead, cookie + 1, (ulong)offset, (uint)length);
            var read = client.ReadSimpleReply(length);
            Assert.True(read.Error == 0, $"READ of {length} at {offset}: error {read.Error}");
            Assert.True(read.Data.AsSpan().SequenceEqual(expected.AsSpan((int)offset, length)), $"READ of {length} at {offset} differs");
        }
    }
}
