using Aio.Interop;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Block;

/// <summary>
/// BlockFiles on the ring are put in the ring's registered file table, so their requests name the file by slot
/// (IOSQE_FIXED_FILE) and skip the kernel's fd lookup; slots go back when the file is disposed.
/// </summary>
public class FixedFileTests
{
    private static Task<int> SlotOf(IoThread io, BlockFile file) => io.Context.InvokeAsync(() => Task.FromResult(file.FixedSlot));

    [IoUringFact]
    public async Task Requests_of_a_BlockFile_name_it_by_its_registered_slot_and_see_its_data()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("disk", 1 << 20, seed: 3);
        using var io = IoThread.Start("fixed-file");
        await using var file = BlockFile.Open(io.Context, path, new BlockFileOptions { Engine = BlockEngine.IoUring });

        // Registration runs on the loop; once it has, every request is prepared with the slot.
        Assert.True(await SlotOf(io, file).WaitAsync(Wait.Default) >= 0, "the file got no slot in the ring's file table");
        using var buffer = new AlignedBuffer(64 * 1024, 4096);
        for (int i = 0; i < 16; i++)
        {
            long offset = i * 64L * 1024;
            Assert.Equal(buffer.Length, await file.ReadAsync(buffer.Memory, offset).AsTask().WaitAsync(Wait.Default));
            Assert.True(buffer.Memory.Span.SequenceEqual(content.AsSpan((int)offset, buffer.Length)), $"read {i} through the slot returned other data");
        }

        buffer.Memory.Span.Fill(0x5a);
        await file.WriteAsync(buffer.Memory, 0).AsTask().WaitAsync(Wait.Default);
        Assert.All(File.ReadAllBytes(path).AsSpan(0, buffer.Length).ToArray(), b => Assert.Equal(0x5a, b));
    }

    [IoUringFact]
    public async Task Disposed_BlockFiles_give_their_slots_back()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("disk", 4096, seed: 5);
        using var io = IoThread.Start("fixed-file-reuse");
        using var buffer = new AlignedBuffer(4096, 4096);

        // More files, one after the other, than the table has slots: each one gets a slot only if the last gave its back.
        for (int i = 0; i < 300; i++)
        {
            var file = BlockFile.Open(io.Context, path, new BlockFileOptions { Engine = BlockEngine.IoUring });
            try
            {
                Assert.True(await SlotOf(io, file).WaitAsync(Wait.Default) >= 0, $"file {i} got no slot: earlier files kept theirs");
                Assert.Equal(4096, await file.ReadAsync(buffer.Memory, 0).AsTask().WaitAsync(Wait.Default));
                Assert.True(buffer.Memory.Span.SequenceEqual(content), $"file {i} read other data");
            }
            finally
            {
                await file.DisposeAsync();
            }
        }
    }

    [IoUringFact]
    public async Task A_read_in_flight_when_its_file_is_disposed_still_completes()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("disk", 8 << 20, seed: 9);
        using var io = IoThread.Start("fixed-file-dispose");
        var file = BlockFile.Open(io.Context, path, new BlockFileOptions { Engine = BlockEngine.IoUring });
        Assert.True(await SlotOf(io, file).WaitAsync(Wait.Default) >= 0);
        using var buffer = new AlignedBuffer(8 << 20, 4096);

        // Started and disposed in the same loop callback: the read sits in the SQ (or the kernel) when the slot goes.
        var read = await io.Context.InvokeAsync(() =>
        {
            var pending = file.ReadAsync(buffer.Memory, 0).AsTask();
            file.Dispose();
            return Task.FromResult(pending);
        }).WaitAsync(Wait.Default);
        Assert.Equal(buffer.Length, await read.WaitAsync(Wait.Default));
        Assert.True(buffer.Memory.Span.SequenceEqual(content), "the read returned other data after its file's slot was released");
    }

    [IoUringFact]
    public async Task A_write_the_kernel_defers_behind_a_drain_reaches_its_own_file_though_the_slot_was_released_meanwhile()
    {
        // IOSQE_IO_DRAIN (an AddSqe of the application's) makes the kernel defer every later request until the drain
        // ran, and a deferred request looks its fixed file up only when it is issued. So a BlockFile's slot must not go
        // back while a request that names it is in flight: the next file opened would take it, and the deferred write
        // would land in that file.
        using var dir = new TempDir();
        var (pathA, _) = dir.CreateFile("a", 4096, seed: 1);
        var (pathB, contentB) = dir.CreateFile("b", 4096, seed: 2);
        using var io = IoThread.Start("fixed-file-drain");
        var (pipeRead, pipeWrite) = Libc.CreatePipe(0);
        try
        {
            var a = BlockFile.Open(io.Context, pathA, new BlockFileOptions { Engine = BlockEngine.IoUring });
            Assert.True(await SlotOf(io, a).WaitAsync(Wait.Default) >= 0, "file a got no slot");
            using var buffer = new AlignedBuffer(4096, 4096);
            buffer.Memory.Span.Fill(0x5a);
            byte[] pipeByte = GC.AllocateArray<byte>(1, pinned: true);
            nint pipeBuffer = System.Runtime.InteropServices.Marshal.UnsafeAddrOfPinnedArrayElement(pipeByte, 0);
            var blocker = new RecordingHandler();
            var drain = new RecordingHandler();
            BlockFile? b = null;

            // In one loop callback: a read of an empty pipe (in flight until the test writes to it), a drained NOP behind
            // it, the write behind that (deferred by the kernel), then a's dispose and b's open.
            var write = await io.Context.InvokeAsync(() =>
            {
                io.Context.AddSqe(static (ref Sqe sqe, (int Fd, nint Buffer) s) => sqe.PrepRead(s.Fd, s.Buffer, 1, 0), (pipeRead, pipeBuffer), blocker);
                io.Context.AddSqe(static (ref Sqe sqe, int _) =>
                {
                    sqe.PrepNop();
                    sqe.Flags |= SqeFlags.IoDrain;
                }, 0, drain);
                var pending = a.WriteAsync(buffer.Memory, 0).AsTask();
                a.Dispose();
                b = BlockFile.Open(io.Context, pathB, new BlockFileOptions { Engine = BlockEngine.IoUring });
                return Task.FromResult(pending);
            }).WaitAsync(Wait.Default);
            Assert.False(write.IsCompleted, "the write completed before the drain let it run");

            Assert.Equal(1, Libc.WriteSpan(pipeWrite, "x"u8));
            // The drain waits for every request submitted before it, the loop's own included: the one-shot POLL_ADD on
            // its wake-up eventfd completes when a Notify finds the loop asleep, so nudge it until the drain has run.
            Wait.Until(
                () => write.IsCompleted,
                () =>
                {
                    io.Context.Notify();
                    Thread.Sleep(5);
                },
                $"the deferred write (pipe read completed: {blocker.Count}, drain: {drain.Count})");
            Assert.Equal(4096, await write);
            Assert.All(File.ReadAllBytes(pathA), x => Assert.Equal(0x5a, x));
            Assert.True(File.ReadAllBytes(pathB).AsSpan().SequenceEqual(contentB), "the write deferred behind the drain landed in the file that took its slot");
            await b!.DisposeAsync();
        }
        finally
        {
            Libc.CloseQuietly(pipeRead);
            Libc.CloseQuietly(pipeWrite);
        }
    }
}
