using Aio.Interop;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Block;

/// <summary>Issue 10 item 13: a disposed BlockFile refuses calls but keeps its fd for the requests it accepted.</summary>
public class BlockFileLifecycleTests
{
    [IoUringFact]
    public async Task A_disposed_BlockFile_refuses_calls_while_earlier_reads_are_in_flight()
    {
        var (r, w) = Libc.CreatePipe(flags: 0);
        using var pipeRead = new Microsoft.Win32.SafeHandles.SafeFileHandle(r, ownsHandle: true);
        using var pipeWrite = new Microsoft.Win32.SafeHandles.SafeFileHandle(w, ownsHandle: true);
        using var io = IoThread.Start("blockfile-dispose");

        // The pipe opened again through /proc: a "file" whose reads stay in flight until we write.
        var file = BlockFile.Open(io.Context, $"/proc/self/fd/{r}", new BlockFileOptions { Engine = BlockEngine.IoUring });
        var buffer = new byte[16];
        var pending = file.ReadAsync(buffer, 0);
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.ReadAsync(new byte[16], 0));
        Assert.Throws<ObjectDisposedException>(() => file.WriteAsync(new byte[16], 0));
        Assert.Throws<ObjectDisposedException>(() => file.FlushAsync());
        Assert.Throws<ObjectDisposedException>(() => file.Length);
        await file.DisposeAsync();

        // The read accepted before Dispose still has its fd, and completes normally; then the fd is closed.
        Assert.False(file.Handle.IsClosed, "the fd was closed under a read in flight");
        var payload = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();
        Assert.Equal(16, Libc.WriteSpan(w, payload));
        Assert.Equal(16, await pending.AsTask().WaitAsync(Wait.Default));
        Assert.Equal(payload, buffer);
        Assert.True(file.Handle.IsClosed, "the last request did not close the fd");
    }

    [Fact]
    public async Task Reads_accepted_before_Dispose_complete_on_the_threads_engine()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("f", 64 * 512);
        using var ctx = AioContext.Create();
        var file = BlockFile.Open(ctx, path, new BlockFileOptions { Engine = BlockEngine.Threads, ReadOnly = true });
        var buffers = Enumerable.Range(0, 64).Select(_ => new byte[512]).ToArray();
        var reads = buffers.Select((b, i) => file.ReadAsync(b, i * 512L).AsTask()).ToArray();
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.ReadAsync(new byte[512], 0));

        // Queued before Dispose, run after it: each still had the file.
        var counts = await Task.WhenAll(reads).WaitAsync(Wait.Default);
        Assert.All(counts, n => Assert.Equal(512, n));
        for (int i = 0; i < buffers.Length; i++)
        {
            Assert.True(buffers[i].AsSpan().SequenceEqual(content.AsSpan(i * 512, 512)), $"read {i} differs");
        }

        Assert.True(file.Handle.IsClosed);
    }

    [IoUringFact]
    public void Files_opened_and_disposed_on_the_home_thread_race_a_foreign_context_Dispose_safely()
    {
        // Registering and emptying a file's slot touch the ring from the home thread outside any Poll: as sections, so
        // that a Dispose from another thread either comes first (then nothing touches the ring) or is refused while
        // one runs (InvalidOperationException, as for any call inside the context), and never unmaps the ring under it.
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("disk", 4096, seed: 4);
        int refusals = 0;
        var deadline = System.Diagnostics.Stopwatch.StartNew();

        // Rounds until a Dispose met a section in progress (the threads must overlap, which scheduling decides), within 20 s.
        for (int round = 0; Volatile.Read(ref refusals) == 0 && deadline.Elapsed < TimeSpan.FromSeconds(20); round++)
        {
            var ctx = AioContext.Create();
            ctx.Poll(blocking: false);
            using var opening = new ManualResetEventSlim();
            var disposer = new Thread(() =>
            {
                opening.Wait();
                Interlocked.Add(ref refusals, ForeignDispose.RetryingRefusals(ctx));
            });
            disposer.Start();
            int opened = 0;
            try
            {
                // Until the Dispose gets in between two sections (bounded: a Dispose never let in fails below).
                for (; opened < 100_000; opened++)
                {
                    using var file = BlockFile.Open(ctx, path, new BlockFileOptions { Engine = BlockEngine.IoUring });
                    opening.Set();
                }
            }
            catch (ObjectDisposedException)
            {
            }

            opening.Set();
            Assert.True(disposer.Join(Wait.Default), $"round {round}: the foreign Dispose did not finish ({opened} files opened)");
            Assert.True(ctx.IsDisposed);
        }

        // The two threads overlapped: some Dispose calls met a registration or release in progress.
        Assert.True(refusals > 0, "no Dispose was refused: the home thread's slot work never ran as a section while another thread disposed");
    }
}
