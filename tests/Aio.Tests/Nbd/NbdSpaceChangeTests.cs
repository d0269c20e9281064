using System.Buffers.Binary;
using Aio.Nbd;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>
/// While a punch or zero-range runs on a page-cache export (the file system holds the inode's lock for all of it), the
/// loop makes none of the calls that would wait for that lock: writes take the ring instead of pwrite, and block status
/// answers "data" without lseek, one mebibyte at a time. Afterwards, the usual paths again.
/// </summary>
public class NbdSpaceChangeTests
{
    private const int Requests = 10;

    [Fact]
    public void During_a_space_change_writes_take_the_ring_and_block_status_answers_data()
    {
        using var server = new NbdTestServer(size: 8 << 20, direct: false);
        var export = server.Server.Exports[0];

        // The first megabyte written (data), the rest a hole.
        var data = new byte[Requests * 4096];
        new Random(21).NextBytes(data);
        export.BeginSpaceChange();
        try
        {
            var (extents, reads, writes) = Serve(server, data);
            Assert.Equal(new List<(uint, uint)> { ((uint)NbdExport.ChangingSpaceExtent, 0u) }, extents);
            Assert.Equal(0L, writes.FromReceiveBuffer);
            Assert.Equal(0L, writes.ByWorkers);

            // Reads of pages the punch does not drop still come from the mapping.
            Assert.Equal(Requests, reads);
        }
        finally
        {
            export.EndSpaceChange();
        }

        // The control: the same requests on the same export, now on the loop's own paths.
        var (after, readsAfter, writesAfter) = Serve(server, data);
        Assert.Equal((uint)data.Length, after[0].Length);
        Assert.Equal(0u, after[0].Flags);
        Assert.Equal(NbdProtocol.StateHole | NbdProtocol.StateZero, after[1].Flags);
        // Every read is of pages just written (resident); a write is taken from the receive buffer when its whole
        // payload arrived with the ones before it, which a split of the client's send can deny some of them.
        Assert.Equal(Requests, readsAfter);
        Assert.InRange(writesAfter.FromReceiveBuffer, 1, Requests);
        Assert.Equal(Requests, writesAfter.FromReceiveBuffer + writesAfter.ByWorkers);
        Assert.Equal(data, File.ReadAllBytes(server.ImagePath).AsSpan(0, data.Length).ToArray());
    }

    [Fact]
    public void TRIM_and_WRITE_ZEROES_leave_the_export_no_longer_changing_space()
    {
        using var server = new NbdTestServer(size: 8 << 20, direct: false);
        var export = server.Server.Exports[0];
        using var client = new RawNbdClient(server.SocketPath);
        client.Negotiate(structured: false, meta: false);

        // A punch, a zero-range, and a fast zero: each begins a space change and must end it, however it went.
        client.SendRequest(0, NbdProtocol.CmdTrim, 1, 0, 1 << 20);
        client.SendRequest(NbdProtocol.CmdFlagNoHole, NbdProtocol.CmdWriteZeroes, 2, 1 << 20, 1 << 20);
        client.SendRequest(NbdProtocol.CmdFlagFastZero, NbdProtocol.CmdWriteZeroes, 3, 2 << 20, 1 << 20);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(0u, client.ReadReply().SimpleError);
        }

        Assert.False(export.ChangingSpace, "a space change was begun and never ended");
    }

    /// <summary>
    /// One connection: <see cref="Requests"/> 4 KiB writes in one send, then the same reads, then BLOCK_STATUS of the
    /// whole export. Returns the extents and what the connection counted once it ended (reads from the view; page-cache
    /// writes with pwrite on the loop, from the receive buffer and by request workers).
    /// </summary>
    private static (List<(uint Length, uint Flags)> Extents, long Reads, (long FromReceiveBuffer, long ByWorkers) Writes) Serve(NbdTestServer server, byte[] data)
    {
        long reads = server.Server.ReadsFromView;
        long writes = server.Server.WritesFromReceiveBuffer;
        long workerWrites = server.Server.WorkerWritesOnLoop;
        var extents = new List<(uint, uint)>();
        using (var client = new RawNbdClient(server.SocketPath))
        {
            client.Negotiate(structured: true, meta: true);
            var burst = new List<byte>();
            for (int i = 0; i < Requests; i++)
            {
                burst.AddRange(RawNbdClient.Request(0, NbdProtocol.CmdWrite, (ulong)i, (ulong)i * 4096, 4096, data[(i * 4096)..((i + 1) * 4096)]));
            }

            client.Send([.. burst]);
            for (int i = 0; i < Requests; i++)
            {
                Assert.Equal(0u, client.ReadReply().SimpleError);
            }

            for (int i = 0; i < Requests; i++)
            {
                // DF: one OFFSET_DATA chunk, no allocation lookup for the read itself.
                client.SendRequest(NbdProtocol.CmdFlagDf, NbdProtocol.CmdRead, (ulong)(100 + i), (ulong)i * 4096, 4096);
                var reply = client.ReadReply();
                Assert.Equal(NbdProtocol.ReplyTypeOffsetData, reply.Type);
                Assert.True(data.AsSpan(i * 4096, 4096).SequenceEqual(reply.Payload.AsSpan(8)), $"read {i} differs from what was written");
            }

            client.SendRequest(0, NbdProtocol.CmdBlockStatus, 200, 0, 8 << 20);
            var status = client.ReadReply();
            Assert.Equal(NbdProtocol.ReplyTypeBlockStatus, status.Type);
            for (int at = 4; at < status.Payload.Length; at += 8)
            {
                extents.Add((BinaryPrimitives.ReadUInt32BigEndian(status.Payload.AsSpan(at)), BinaryPrimitives.ReadUInt32BigEndian(status.Payload.AsSpan(at + 4))));
            }
        }

        Wait.Until(() => server.Server.ConnectionCount == 0, () => Thread.Sleep(5), "the connection to close");
        return (extents, server.Server.ReadsFromView - reads, (server.Server.WritesFromReceiveBuffer - writes, server.Server.WorkerWritesOnLoop - workerWrites));
    }
}
