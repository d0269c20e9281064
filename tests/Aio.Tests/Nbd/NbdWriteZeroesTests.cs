using Aio.Nbd;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>
/// WRITE_ZEROES on the wire: the zeroes land exactly on the range (unaligned edges included) with or without a hole;
/// FAST_ZERO is advertised, succeeds where the file system zeroes, and where it cannot, fails with ENOTSUP and leaves
/// the data alone (the client then writes zeroes itself, as the protocol intends). The case of a file system that
/// refuses every fallocate is in <see cref="NbdCliTests"/>, where strace makes one.
/// </summary>
public sealed class NbdWriteZeroesTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Zeroes_land_exactly_on_the_range_with_and_without_a_hole(bool direct)
    {
        const long Size = 4 << 20;
        using var server = new NbdTestServer(size: Size, direct: direct, random: true);
        var expected = File.ReadAllBytes(server.ImagePath);
        using var client = new RawNbdClient(server.SocketPath);
        var (size, flags) = client.Negotiate();
        Assert.Equal((ulong)Size, size);
        Assert.NotEqual(0, flags & NbdProtocol.FlagSendWriteZeroes);
        Assert.NotEqual(0, flags & NbdProtocol.FlagSendFastZero);

        // A punched hole is fast on every file system the tests run on: FAST_ZERO succeeds.
        Assert.Equal(0u, Zero(client, 1, 64 << 10, 1 << 20, NbdProtocol.CmdFlagFastZero, expected));

        // Unaligned at both ends: the partial blocks are zeroed in place, their other bytes kept.
        Assert.Equal(0u, Zero(client, 2, (3 << 20) + 100, 5000, 0, expected));

        // NO_HOLE needs a zeroed range (FALLOC_FL_ZERO_RANGE), which some file systems lack (tmpfs): then FAST_ZERO
        // must fail with ENOTSUP and touch nothing; where it exists, the range reads back as zeroes.
        long blocks = AllocatedBlocks(server.ImagePath);
        uint error = Zero(client, 3, 2 << 20, 512 << 10, NbdProtocol.CmdFlagNoHole | NbdProtocol.CmdFlagFastZero, expected);
        Assert.True(error is 0 or NbdProtocol.ENOTSUP, $"NO_HOLE|FAST_ZERO failed with {error}");

        // Without FAST_ZERO, NO_HOLE always succeeds (written zeroes where the file system cannot zero a range).
        Assert.Equal(0u, Zero(client, 4, (2 << 20) + (600 << 10), 100 << 10, NbdProtocol.CmdFlagNoHole, expected));

        // Neither punched a hole: the file keeps every block it had (a punch would free 1,224 of them).
        long after = AllocatedBlocks(server.ImagePath);
        Assert.True(after >= blocks, $"NO_HOLE freed blocks: {blocks} allocated before, {after} after");

        AssertReadsBack(client, expected);
    }

    /// <summary>The file's allocated 512-byte blocks (st_blocks), as <c>stat</c> reports them.</summary>
    private static long AllocatedBlocks(string path)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%b", path]) { RedirectStandardOutput = true };
        using var stat = System.Diagnostics.Process.Start(psi)!;
        string output = stat.StandardOutput.ReadToEnd();
        Assert.True(stat.WaitForExit(20_000), "stat did not exit");
        Assert.Equal(0, stat.ExitCode);
        return long.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Written_zeroes_take_turns_with_the_loops_other_connections()
    {
        // tmpfs has no FALLOC_FL_ZERO_RANGE: a NO_HOLE WRITE_ZEROES on a page-cache export there writes zeroes, and
        // each piece's pwrite completes on the loop. One loop serves both connections.
        const long Size = 1L << 30;
        string dir = Path.Combine("/dev/shm", "aio-nbd-zeroes-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string image = Path.Combine(dir, "disk.img");
            using (var f = File.Create(image))
            {
                f.SetLength(Size);
            }

            string socket = Path.Combine(dir, "nbd.sock");
            var server = NbdServer.Start(new NbdServerOptions
            {
                Exports = [new NbdExportOptions { Path = image, Direct = false }],
                Listen = [new System.Net.Sockets.UnixDomainSocketEndPoint(socket)],
                Threads = 1,
            });
            try
            {
                using var zeroer = new RawNbdClient(socket);
                using var reader = new RawNbdClient(socket);
                zeroer.Negotiate();
                reader.Negotiate();
                zeroer.SendRequest(NbdProtocol.CmdFlagNoHole, NbdProtocol.CmdWriteZeroes, 1, 0, (uint)Size);
                reader.SendRequest(0, NbdProtocol.CmdRead, 2, 0, 4096);

                // The READ is answered between two pieces of the 1 GiB of zeroes, not after all of them.
                Assert.Equal(0u, reader.ReadSimpleReply(4096).Error);
                Assert.False(zeroer.Socket.Poll(0, System.Net.Sockets.SelectMode.SelectRead), "the 1 GiB of zeroes was written before the other connection's READ was served");
                zeroer.Socket.ReceiveTimeout = 60_000;
                var zeroed = zeroer.ReadSimpleReply();
                Assert.Equal((0u, 1ul), (zeroed.Error, zeroed.Cookie));
            }
            finally
            {
                Wait.For(server.DisposeAsync().AsTask(), "the NBD server to stop");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [LoopDeviceFact]
    public void On_a_block_device_FAST_ZERO_succeeds_only_where_the_device_zeroes_in_hardware()
    {
        // A block device whose queue has no write-zeroes command "zeroes a range" by writing zero pages: FAST_ZERO
        // must then fail with ENOTSUP (unless a hole punch did it) rather than take as long as writing. A loop device
        // says in sysfs which kind it is; the outcome must follow.
        const int Size = 4 << 20;
        using var device = LoopDevice.TryCreate(Size, out string why);
        Assert.True(device is not null, why);
        var expected = new byte[Size];
        new Random(17).NextBytes(expected);
        using (var stream = new FileStream(device!.Path, FileMode.Open, FileAccess.Write))
        {
            stream.Write(expected);
            stream.Flush(flushToDisk: true);
        }

        bool hardware = File.ReadAllText($"/sys/block/{device.Name}/queue/write_zeroes_max_bytes").Trim() != "0";
        using var server = new NbdTestServer(configure: o => o with { Exports = [new NbdExportOptions { Path = device.Path }] });
        using var client = new RawNbdClient(server.SocketPath);
        var (size, _) = client.Negotiate();
        Assert.Equal((ulong)Size, size);

        uint error = Zero(client, 1, 64 << 10, 1 << 20, NbdProtocol.CmdFlagFastZero | NbdProtocol.CmdFlagNoHole, expected);
        Assert.Equal(hardware ? 0u : NbdProtocol.ENOTSUP, error);
        AssertReadsBack(client, expected);
    }

    /// <summary>
    /// Sends one WRITE_ZEROES and reads its reply; on success, zeroes the same range of <paramref name="expected"/>.
    /// </summary>
    internal static uint Zero(RawNbdClient client, ulong cookie, long offset, int length, ushort flags, byte[] expected)
    {
        client.SendRequest(flags, NbdProtocol.CmdWriteZeroes, cookie, (ulong)offset, (uint)length);
        var (error, answered, _) = client.ReadSimpleReply();
        Assert.Equal(cookie, answered);
        if (error == 0)
        {
            Array.Clear(expected, (int)offset, length);
        }

        return error;
    }

    /// <summary>Reads the whole export through the server in 256 KiB requests and compares every byte.</summary>
    internal static void AssertReadsBack(RawNbdClient client, byte[] expected)
    {
        const int Chunk = 256 << 10;
        for (int offset = 0; offset < expected.Length; offset += Chunk)
        {
            int length = Math.Min(Chunk, expected.Length - offset);
            client.SendRequest(0, NbdProtocol.CmdRead, 1000 + (ulong)offset, (ulong)offset, (uint)length);
            var (error, _, data) = client.ReadSimpleReply(length);
            Assert.Equal(0u, error);
            int diff = data.AsSpan().CommonPrefixLength(expected.AsSpan(offset, length));
            if (diff != length)
            {
                Assert.Fail($"byte {offset + diff} reads {data[diff]}, expected {expected[offset + diff]}");
            }
        }
    }
}
