using Aio.Interop;
using Aio.Net;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Block;

/// <summary>
/// <see cref="BlockFileView"/>: slices of the page cache in place, coherent with writes, residency from mincore, and a
/// mapping that outlives Dispose while a send still has a slice pinned.
/// </summary>
public sealed class BlockFileViewTests
{
    // posix_fadvise's advice to drop clean cached pages (include/uapi/linux/fadvise.h); Aio itself only uses WILLNEED.
    private const int PosixFadvDontNeed = 4;

    [Fact]
    public void Slices_are_the_file_bytes_and_see_later_writes()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("f", (3 * 4096) + 777);
        using var ctx = AioContext.Create();
        using var file = BlockFile.Open(ctx, path);
        using var view = file.MapView();

        Assert.Equal(content.Length, view.Length);
        Assert.Equal(content, view.Slice(0, content.Length).ToArray());
        Assert.Equal(content.AsSpan(4000, 5000).ToArray(), view.Slice(4000, 5000).ToArray());
        Assert.Equal(content.AsSpan(content.Length - 10).ToArray(), view.Slice(content.Length - 10, 10).ToArray());
        Assert.True(view.Slice(content.Length, 0).IsEmpty);

        // The page cache itself: a write after the slice was taken is what the slice reads.
        var slice = view.Slice(5000, 3);
        RandomAccess.Write(file.Handle, new byte[] { 1, 2, 3 }, 5001);
        Assert.Equal(new byte[] { content[5000], 1, 2 }, slice.ToArray());
    }

    [Fact]
    public void Ranges_outside_the_view_or_too_long_are_refused_and_a_disposed_view_refuses_everything()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("f", 8192);
        using var ctx = AioContext.Create();
        using var file = BlockFile.Open(ctx, path);
        var view = file.MapView();

        Assert.Throws<ArgumentOutOfRangeException>(() => view.Slice(-1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => view.Slice(0, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => view.Slice(8000, 193));
        Assert.Throws<ArgumentOutOfRangeException>(() => view.Slice(long.MaxValue, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => view.Slice(0, BlockFileView.MaxSliceLength + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => view.IsResident(8192, 1));

        view.Dispose();
        Assert.True(view.IsUnmapped);
        Assert.Throws<ObjectDisposedException>(() => view.Slice(0, 1));
        Assert.Throws<ObjectDisposedException>(() => view.IsResident(0, 1));
        view.Dispose();

        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.MapView());
    }

    [Fact]
    public void An_empty_file_maps_to_an_empty_view()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("f", 0);
        using var ctx = AioContext.Create();
        using var file = BlockFile.Open(ctx, path);
        using var view = file.MapView();
        Assert.Equal(0, view.Length);
        Assert.True(view.Slice(0, 0).IsEmpty);
        Assert.True(view.IsResident(0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => view.Slice(0, 1));
    }

    [Fact]
    public void A_pinned_slice_keeps_the_mapping_after_Dispose_until_it_is_released()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("f", 3 * 4096);
        using var ctx = AioContext.Create();
        using var file = BlockFile.Open(ctx, path);
        var view = file.MapView();
        var slice = view.Slice(4096, 100);
        Assert.Equal(content.AsSpan(4096, 100).ToArray(), slice.ToArray());
        var first = slice.Pin();
        var second = slice.Pin();

        view.Dispose();
        Assert.False(view.IsUnmapped, "unmapped under a pinned slice");
        Assert.Throws<ObjectDisposedException>(() => view.Slice(4096, 100));

        // While a pin holds the mapping, the slice can be pinned again (a queued reply's pin, then the send's).
        slice.Pin().Dispose();
        first.Dispose();
        Assert.False(view.IsUnmapped, "unmapped under the second pin");
        second.Dispose();
        Assert.True(view.IsUnmapped, "the last pin did not unmap");
        Assert.Throws<ObjectDisposedException>(() => slice.Pin());
    }

    [Theory]
    [InlineData(true, 1000u, 1001u, true)]     // opened for writing: the open checked write permission
    [InlineData(false, 1000u, 1000u, true)]    // the owner
    [InlineData(false, 1000u, 0u, true)]       // root (CAP_FOWNER)
    [InlineData(false, 1000u, 1001u, false)]   // someone else's file, read-only: mincore would say "all resident"
    public void Residency_is_asked_only_where_mincore_reports_it(bool writable, uint owner, uint euid, bool reported)
        => Assert.Equal(reported, FileMapping.ResidencyIsReported(writable, owner, euid));

    [Fact]
    public void A_slice_across_the_first_gigabyte_is_whole()
    {
        // Memory offsets are ints: the mapping is cut into windows, and a slice that starts before a window's end must
        // still come out whole. A sparse file costs no disk.
        const long Gigabyte = 1L << 30;
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "sparse");
        var pattern = new byte[3 * 4096];
        new Random(3).NextBytes(pattern);
        using (var f = File.Create(path))
        {
            f.SetLength(Gigabyte + (8L << 20));
            RandomAccess.Write(f.SafeFileHandle, pattern, Gigabyte - 4096);
        }

        using var ctx = AioContext.Create();
        using var file = BlockFile.Open(ctx, path, new BlockFileOptions { ReadOnly = true });
        using var view = file.MapView();
        Assert.Equal(pattern, view.Slice(Gigabyte - 4096, pattern.Length).ToArray());
        Assert.Equal(pattern.AsSpan(4096).ToArray(), view.Slice(Gigabyte, pattern.Length - 4096).ToArray());
        Assert.Equal(new byte[100], view.Slice(view.Length - 100, 100).ToArray());
        Assert.Equal(pattern.AsSpan(0, 10).ToArray(), view.Slice(Gigabyte - 4096, 10).ToArray());
    }

    [Fact]
    public void Residency_follows_the_page_cache()
    {
        // Needs a file system with a page cache of its own to drop (CI's temp directory is ext4; tmpfs pages are the
        // file and never leave memory).
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "f");
        var content = new byte[16 * 4096];
        new Random(5).NextBytes(content);
        using (var f = new FileStream(path, FileMode.CreateNew))
        {
            f.Write(content);
            f.Flush(flushToDisk: true);
        }

        using var ctx = AioContext.Create();
        using var file = BlockFile.Open(ctx, path);
        using var view = file.MapView();
        Assert.Equal(0, Libc.PosixFAdvise((int)file.Handle.DangerousGetHandle(), 0, 0, PosixFadvDontNeed));
        Assert.False(view.IsResident(0, content.Length), "clean pages dropped with FADV_DONTNEED still count as resident");

        // A read brings in (at least) the pages it covers.
        var buffer = new byte[2 * 4096];
        RandomAccess.Read(file.Handle, buffer, 4096);
        Assert.True(view.IsResident(4096, 2 * 4096), "pages just read are not resident");
        Assert.True(view.IsResident(4096 + 100, 50));
        Assert.Equal(content.AsSpan(4096, 2 * 4096).ToArray(), buffer);
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public async Task A_slice_sent_through_a_socket_arrives_intact_and_is_released(FdMonitorKind kind)
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("f", 256 * 1024);
        using var loops = new NetLoops(kind);
        using var file = BlockFile.Open(loops.Server.Context, path, new BlockFileOptions { ReadOnly = true });
        var view = file.MapView();
        await using var listener = AioListener.Bind(loops.Server.Context, NetLoops.Loopback(unix: false));
        var (client, server) = await loops.ConnectAsync(listener);
        await using (client)
        await using (server)
        {
            // Larger than the socket buffers: the kernel reads the slice over several sends while the peer receives.
            var send = server.SendAsync(view.Slice(1000, 200_000)).AsTask();
            var received = new byte[200_000];
            await NetLoops.ReceiveExactlyAsync(client, received).WaitAsync(Wait.Default);
            await send.WaitAsync(Wait.Default);
            Assert.Equal(content.AsSpan(1000, 200_000).ToArray(), received);
        }

        // The send released its pin: nothing holds the mapping once the view is disposed.
        view.Dispose();
        Assert.True(view.IsUnmapped, "a finished send still holds a pin on the mapping");
    }
}
