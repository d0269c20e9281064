using Aio.Nbd;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>
/// The export's allocation answers (BLOCK_STATUS, and the OFFSET_HOLE chunks of structured reads) come from a cached
/// run of data once it has been seen; a TRIM or WRITE_ZEROES forgets it, so holes it punches are reported at once.
/// </summary>
public class NbdExportAllocationTests
{
    private static List<NbdExtent> Extents(NbdExport export, long offset, long end)
    {
        var extents = new List<NbdExtent>();
        export.GetExtents(offset, end, 1024, extents);
        return extents;
    }

    [IoUringFact]
    public async Task A_hole_punched_by_TRIM_is_reported_although_the_run_of_data_was_cached()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("disk", 4 << 20, seed: 21);
        using var io = IoThread.Start("nbd-alloc");
        using var export = NbdExport.Open(io.Context, new NbdExportOptions { Path = path });
        var file = export.FileFor(io.Context);

        // All data, and now cached: a second question over a part of it gets the same answer.
        Assert.Equal([new NbdExtent(0, 4 << 20, Hole: false)], Extents(export, 0, 4 << 20));
        Assert.Equal([new NbdExtent(1 << 20, 4096, Hole: false)], Extents(export, 1 << 20, (1 << 20) + 4096));

        await io.Context.InvokeAsync(() => NbdExportIo.TrimAsync(export, file, 1 << 20, 1 << 20, fua: false).AsTask()).WaitAsync(Wait.Default);
        Assert.Equal(
            [new NbdExtent(0, 1 << 20, Hole: false), new NbdExtent(1 << 20, 1 << 20, Hole: true), new NbdExtent(2 << 20, 2 << 20, Hole: false)],
            Extents(export, 0, 4 << 20));
    }

    [IoUringFact]
    public async Task A_hole_punched_by_WRITE_ZEROES_is_reported_although_the_run_of_data_was_cached()
    {
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("disk", 2 << 20, seed: 23);
        using var io = IoThread.Start("nbd-alloc-zero");
        using var export = NbdExport.Open(io.Context, new NbdExportOptions { Path = path });
        var file = export.FileFor(io.Context);
        Assert.Single(Extents(export, 0, 2 << 20));

        uint error = await io.Context.InvokeAsync(() => NbdExportIo.ZeroAsync(export, file, 0, 1 << 20, noHole: false, fastZero: false, fua: false).AsTask()).WaitAsync(Wait.Default);
        Assert.Equal(0u, error);
        Assert.Equal([new NbdExtent(0, 1 << 20, Hole: true), new NbdExtent(1 << 20, 1 << 20, Hole: false)], Extents(export, 0, 2 << 20));
    }
}
