using System.Text.Json;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>The real clients (QEMU's and libnbd's) against a server in the test process.</summary>
public class NbdClientTests
{
    [NbdToolFact("qemu-io")]
    public void Qemu_io_patterns_write_read_and_verify_aligned_unaligned_zero_discard_flush_and_fua()
    {
        using var server = new NbdTestServer();
        NbdTools.Check("qemu-io", "-f", "raw", server.Uri,
            "-c", "write -P 0xab 0 1M",
            "-c", "read -P 0xab 0 1M",
            "-c", "write -P 0xcd 1000 3000",
            "-c", "read -P 0xcd 1000 3000",
            "-c", "read -P 0xab 0 1000",
            "-c", "read -P 0xab 4000 4096",
            "-c", "write -f -P 0x11 5M 4k",
            "-c", "read -P 0x11 5M 4k",
            "-c", "write -z 2M 1M",
            "-c", "read -P 0 2M 1M",
            "-c", "write -P 0x22 3M 64k",
            "-c", "write -z -u 3M 64k",
            "-c", "read -P 0 3M 64k",
            "-c", "discard 8M 1M",
            "-c", "flush",
            "-c", "aio_write -P 0x33 9M 4k",
            "-c", "aio_write -P 0x44 10M 4k",
            "-c", "aio_flush",
            "-c", "read -P 0x33 9M 4k",
            "-c", "read -P 0x44 10M 4k");

        // And the bytes really are in the file.
        var bytes = File.ReadAllBytes(server.ImagePath);
        Assert.All(bytes.AsSpan(0, 1000).ToArray(), b => Assert.Equal(0xab, b));
        Assert.All(bytes.AsSpan(1000, 3000).ToArray(), b => Assert.Equal(0xcd, b));
        Assert.All(bytes.AsSpan(5 << 20, 4096).ToArray(), b => Assert.Equal(0x11, b));
    }

    [NbdToolFact("qemu-io")]
    public void Qemu_io_fails_a_wrong_pattern_so_the_pattern_checks_mean_something()
    {
        using var server = new NbdTestServer();
        var (code, _, _) = NbdTools.Run("qemu-io", "-f", "raw", server.Uri, "-c", "write -P 0xab 0 64k", "-c", "read -P 0xac 0 64k");
        Assert.NotEqual(0, code);
    }

    [NbdToolFact("qemu-io")]
    public void An_export_of_odd_size_is_served_at_its_exact_size_and_its_tail_is_writable()
    {
        int size = (1 << 20) + 123;
        using var server = new NbdTestServer(size: size);
        NbdTools.Check("qemu-io", "-f", "raw", server.Uri,
            "-c", $"write -P 0x5a {size - 100} 100",
            "-c", $"read -P 0x5a {size - 100} 100",
            "-c", "write -P 0x6b 0 4096",
            "-c", "read -P 0x6b 0 4096");
        Assert.Equal(size, new FileInfo(server.ImagePath).Length);
        var bytes = File.ReadAllBytes(server.ImagePath);
        Assert.All(bytes.AsSpan(size - 100).ToArray(), b => Assert.Equal(0x5a, b));
        Assert.All(bytes.AsSpan(size - 200, 100).ToArray(), b => Assert.Equal(0, b));
        string info = NbdTools.Check("nbdinfo", "--size", server.Uri);
        Assert.Equal(size.ToString(System.Globalization.CultureInfo.InvariantCulture), info.Trim());
    }

    [NbdToolFact("qemu-img")]
    public void Qemu_img_compare_convert_and_map_agree_with_the_backing_file()
    {
        using var server = new NbdTestServer(size: 8 << 20, random: true);
        NbdTools.Check("qemu-img", "compare", "-f", "raw", "-F", "raw", server.ImagePath, server.Uri);
        string copy = Path.Combine(server.Dir, "copy.img");
        NbdTools.Check("qemu-img", "convert", "-f", "raw", "-O", "raw", server.Uri, copy);
        Assert.Equal(File.ReadAllBytes(server.ImagePath), File.ReadAllBytes(copy));

        // Writes through convert the other way, then compare again.
        string source = Path.Combine(server.Dir, "source.img");
        var data = new byte[8 << 20];
        new Random(99).NextBytes(data);
        File.WriteAllBytes(source, data);
        NbdTools.Check("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", source, server.Uri);
        NbdTools.Check("qemu-img", "compare", "-f", "raw", "-F", "raw", source, server.Uri);
        string map = NbdTools.Check("qemu-img", "map", "--output=json", "-f", "raw", server.Uri);
        using var doc = JsonDocument.Parse(map);
        Assert.All(doc.RootElement.EnumerateArray(), e => Assert.True(e.GetProperty("data").GetBoolean()));
    }

    [NbdToolFact("nbdinfo")]
    public void Nbdinfo_reports_size_flags_and_a_map_that_matches_SEEK_DATA()
    {
        using var server = new NbdTestServer(size: 16 << 20);
        using (var f = new FileStream(server.ImagePath, FileMode.Open, FileAccess.Write))
        {
            f.Position = 1 << 20;
            f.Write(new byte[65536].Select(_ => (byte)1).ToArray());
            f.Position = 9 << 20;
            f.Write(new byte[4096].Select(_ => (byte)1).ToArray());
        }

        string json = NbdTools.Check("nbdinfo", "--json", server.Uri);
        using var doc = JsonDocument.Parse(json);
        var export = doc.RootElement.GetProperty("exports")[0];
        Assert.Equal(16 << 20, export.GetProperty("export-size").GetInt64());
        Assert.True(export.GetProperty("can_multi_conn").GetBoolean());
        Assert.True(export.GetProperty("can_flush").GetBoolean());
        Assert.True(export.GetProperty("can_fua").GetBoolean());
        Assert.True(export.GetProperty("can_trim").GetBoolean());
        Assert.True(export.GetProperty("can_zero").GetBoolean());
        Assert.False(export.GetProperty("is_read_only").GetBoolean());

        string map = NbdTools.Check("nbdinfo", "--map", "--json", server.Uri);
        using var mapDoc = JsonDocument.Parse(map);
        var data = mapDoc.RootElement.EnumerateArray().Where(e => e.GetProperty("type").GetInt32() == 0)
            .Select(e => (e.GetProperty("offset").GetInt64(), e.GetProperty("length").GetInt64())).ToList();
        var expected = SeekDataExtents(server.ImagePath);
        Assert.Equal(expected, data);
        Assert.Contains(data, d => d.Item1 <= (1 << 20) && d.Item1 + d.Item2 >= (1 << 20) + 65536);
    }

    [NbdToolFact("nbdinfo")]
    public void A_BLOCK_STATUS_reply_stops_at_2048_extents_and_nbdinfo_maps_the_rest()
    {
        // 4 KiB of data every 8 KiB: 8,192 extents in 32 MiB, four replies' worth.
        using var server = new NbdTestServer(size: 32 << 20);
        using (var f = File.OpenHandle(server.ImagePath, FileMode.Open, FileAccess.Write))
        {
            var block = new byte[4096];
            block.AsSpan().Fill(1);
            for (long offset = 0; offset < 32 << 20; offset += 8192)
            {
                RandomAccess.Write(f, block, offset);
            }
        }

        var expected = SeekDataExtents(server.ImagePath);
        Assert.Equal(4096, expected.Count);

        using (var client = new RawNbdClient(server.SocketPath))
        {
            client.Negotiate(structured: true, meta: true);
            client.SendRequest(0, Aio.Nbd.NbdProtocol.CmdBlockStatus, 1, 0, 32 << 20);
            var reply = client.ReadReply();
            Assert.Equal(Aio.Nbd.NbdProtocol.ReplyTypeBlockStatus, reply.Type);
            Assert.Equal(1, reply.Flags & 1);
            int count = (reply.Payload.Length - 4) / 8;
            Assert.Equal(Aio.Nbd.NbdProtocol.MaxExtentsPerReply, count);
            for (int i = 0; i < count; i++)
            {
                uint length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(reply.Payload.AsSpan(4 + (8 * i)));
                uint flags = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(reply.Payload.AsSpan(8 + (8 * i)));
                Assert.Equal(4096u, length);
                Assert.Equal(i % 2 == 0 ? 0u : 3u, flags);
            }
        }

        // The client asks again from where each reply ended, and gets the whole map.
        string map = NbdTools.Check("nbdinfo", "--map", "--json", server.Uri);
        using var mapDoc = JsonDocument.Parse(map);
        var data = mapDoc.RootElement.EnumerateArray().Where(e => e.GetProperty("type").GetInt32() == 0)
            .Select(e => (e.GetProperty("offset").GetInt64(), e.GetProperty("length").GetInt64())).ToList();
        Assert.Equal(expected, data);
    }

    [NbdToolFact("nbdinfo")]
    public void Nbdinfo_sees_a_read_only_export_and_lists_every_export()
    {
        using var server = new NbdTestServer(readOnly: true, name: "disk");
        string json = NbdTools.Check("nbdinfo", "--json", server.Uri);
        using var doc = JsonDocument.Parse(json);
        var export = doc.RootElement.GetProperty("exports")[0];
        Assert.True(export.GetProperty("is_read_only").GetBoolean());
        Assert.Equal("test disk", export.GetProperty("description").GetString());
        string list = NbdTools.Check("nbdinfo", "--list", "--json", server.Uri);
        Assert.Contains("\"disk\"", list, StringComparison.Ordinal);
    }

    [NbdToolFact("nbdcopy")]
    public void Nbdcopy_round_trip_is_byte_identical()
    {
        using var server = new NbdTestServer(size: 32 << 20);
        string source = Path.Combine(server.Dir, "in.img");
        string back = Path.Combine(server.Dir, "out.img");
        var data = new byte[32 << 20];
        new Random(5).NextBytes(data);
        data.AsSpan(4 << 20, 4 << 20).Clear();    // a zero run: nbdcopy zeroes it rather than writing it
        File.WriteAllBytes(source, data);
        NbdTools.Check("nbdcopy", "--flush", source, server.Uri);
        NbdTools.Check("nbdcopy", server.Uri, back);
        Assert.Equal(data, File.ReadAllBytes(back));
        Assert.Equal(data, File.ReadAllBytes(server.ImagePath));
    }

    [NbdToolFact("nbdsh")]
    public void Nbdsh_negative_cases_get_the_protocols_errors()
    {
        using var server = new NbdTestServer(size: 1 << 20);
        string script = """
import nbd, errno, sys
h = nbd.NBD()
h.set_strict_mode(0)
h.connect_uri(sys.argv[1])
size = h.get_size()
def expect(err, f):
    try:
        f()
    except nbd.Error as e:
        assert e.errno in (err, errno.errorcode[err]), (e.errno, err)
        return
    raise AssertionError("no error")
expect(errno.EINVAL, lambda: h.pread(1024, size - 512))
expect(errno.ENOSPC, lambda: h.pwrite(b"x" * 1024, size - 512))
expect(errno.EINVAL, lambda: h.pread(512, 0, nbd.CMD_FLAG_NO_HOLE))
expect(errno.EINVAL, lambda: h.trim(1024, size))
expect(errno.ENOSPC, lambda: h.zero(4096, size))
h.pwrite(b"y" * 512, 512, nbd.CMD_FLAG_FUA)
assert h.pread(512, 512) == b"y" * 512
h.zero(512, 512, nbd.CMD_FLAG_NO_HOLE)
assert h.pread(512, 512) == bytes(512)
chunks = []
def chunk(buf, offset, status, err):
    chunks.append((status, offset, len(buf)))
    return 0
h.pread_structured(65536, 65536, chunk)
assert chunks == [(nbd.READ_HOLE, 65536, 65536)], chunks
h.flush()
h.shutdown()
print("ok")
""";
        string path = Path.Combine(server.Dir, "neg.py");
        File.WriteAllText(path, script);
        var (code, stdout, stderr) = NbdTools.Run("python3", path, server.Uri);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("ok", stdout, StringComparison.Ordinal);
    }

    [NbdToolFact("nbdsh")]
    public void Multi_conn_a_write_flushed_on_one_connection_is_read_on_another()
    {
        using var server = new NbdTestServer(size: 4 << 20);
        string script = """
import nbd, sys
a = nbd.NBD(); a.connect_uri(sys.argv[1])
b = nbd.NBD(); b.connect_uri(sys.argv[1])
assert a.can_multi_conn()
for i in range(64):
    data = bytes([i]) * 4096
    a.pwrite(data, i * 4096)
    a.flush()
    assert b.pread(4096, i * 4096) == data, i
    b.pwrite(bytes([255 - i]) * 100, i * 4096 + 7)
    b.flush()
    assert a.pread(100, i * 4096 + 7) == bytes([255 - i]) * 100
print("ok")
""";
        string path = Path.Combine(server.Dir, "mc.py");
        File.WriteAllText(path, script);
        var (code, stdout, stderr) = NbdTools.Run("python3", path, server.Uri);
        Assert.True(code == 0, stdout + stderr);
    }

    [NbdToolFact("nbdsh")]
    public void Deep_queue_of_200_requests_on_one_connection_all_complete_with_the_right_data()
    {
        using var server = new NbdTestServer(size: 16 << 20);
        string script = """
import nbd, sys
h = nbd.NBD(); h.connect_uri(sys.argv[1])
bufs = []
for i in range(200):
    h.aio_pwrite(bytes([i % 251]) * 8192, i * 8192)
while h.aio_in_flight() > 0:
    h.poll(-1)
reads = [nbd.Buffer(8192) for i in range(200)]
for i in range(200):
    h.aio_pread(reads[i], i * 8192)
while h.aio_in_flight() > 0:
    h.poll(-1)
for i in range(200):
    assert reads[i].to_bytearray() == bytes([i % 251]) * 8192, i
print("ok")
""";
        string path = Path.Combine(server.Dir, "deep.py");
        File.WriteAllText(path, script);
        var (code, stdout, stderr) = NbdTools.Run("python3", path, server.Uri);
        Assert.True(code == 0, stdout + stderr);
    }

    [NbdToolFact("fio")]
    public void Fio_verifies_random_writes_on_four_connections()
    {
        using var server = new NbdTestServer(size: 64 << 20, direct: true);
        var (code, stdout, stderr) = NbdTools.Run("fio", "--name=v", "--ioengine=nbd", "--uri=" + server.Uri, "--rw=randwrite", "--bs=4k",
            "--iodepth=32", "--numjobs=4", "--size=16M", "--offset_increment=16M", "--verify=crc32c", "--do_verify=1",
            "--verify_fatal=1", "--group_reporting", "--minimal");
        Assert.True(code == 0, stdout + stderr);
        Assert.DoesNotContain("verify", stderr, StringComparison.OrdinalIgnoreCase);
    }

    [NbdToolFact("qemu-io")]
    public void The_page_cache_mode_serves_the_same_bytes()
    {
        using var server = new NbdTestServer(direct: false);
        NbdTools.Check("qemu-io", "-f", "raw", server.Uri,
            "-c", "write -P 0x77 333 7777", "-c", "read -P 0x77 333 7777", "-c", "flush", "-c", "write -z 1M 4096", "-c", "read -P 0 1M 4096");
    }

    private static List<(long, long)> SeekDataExtents(string path)
    {
        // Independent truth: the kernel's own SEEK_DATA/SEEK_HOLE, through a python one-liner.
        var (code, stdout, stderr) = NbdTools.Run("python3", "-c", """
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY); size = os.fstat(fd).st_size; pos = 0
while pos < size:
    try: d = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError: break
    h = os.lseek(fd, d, os.SEEK_HOLE); print(d, h - d); pos = h
""", path);
        Assert.True(code == 0, stderr);
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')).Select(p => (long.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture), long.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture))).ToList();
    }
}
