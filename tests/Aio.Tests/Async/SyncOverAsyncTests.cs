using Aio.Async;
using Aio.Interop;
using Aio.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit;

namespace Aio.Tests.Async;

/// <summary>
/// Issue 10 item 15: the loop thread blocking on its own loop's work (sync-over-async in a loop callback) throws
/// InvalidOperationException instead of hanging the loop for good; other blocking waits are left alone.
/// </summary>
/// <remarks>
/// Every blocking wait here is bounded by a watchdog token: should detection fail, the wait ends with
/// OperationCanceledException after 10 s and the test fails, instead of hanging the loop (and the suite) for good.
/// </remarks>
public class SyncOverAsyncTests
{
    private const string Refused = "refused";

    private static (SafeFileHandle Read, SafeFileHandle Write) SilentPipe()
    {
        var (r, w) = Libc.CreatePipe(flags: 0);
        return (new SafeFileHandle(r, ownsHandle: true), new SafeFileHandle(w, ownsHandle: true));
    }

    /// <summary>Runs <paramref name="block"/> in a loop callback and says how it ended.</summary>
    private static string OnTheLoop(IoThread io, Action<AioContext, CancellationToken> block)
    {
        using var watchdog = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var outcome = io.Context.InvokeAsync(() =>
        {
            try
            {
                block(AioContext.Current!, watchdog.Token);
                return Task.FromResult("returned");
            }
            catch (InvalidOperationException ex) when (ex.Message.Contains("blocking on its own loop's work", StringComparison.Ordinal))
            {
                return Task.FromResult(Refused);
            }
            catch (OperationCanceledException)
            {
                return Task.FromResult("hung until the watchdog");
            }
        });
        Wait.For(outcome, "the blocking loop callback", TimeSpan.FromSeconds(30));
        return outcome.Result;
    }

    private static async Task<int> ReadOnce(AioContext ctx, SafeFileHandle file, byte[] buffer) => await ctx.ReadAsync(file, buffer, 0);

    private static async Task<int> ReadThroughAChain(AioContext ctx, SafeFileHandle file, byte[] buffer) => await ReadOnce(ctx, file, buffer) + 1;

    private static LoopBlockingGuard GuardOf(AioContext ctx) => ((AioSynchronizationContext)ctx.SynchronizationContext).Guard;

    [IoUringFact]
    public void Blocking_the_loop_on_its_own_read_throws_instead_of_hanging()
    {
        var (read, write) = SilentPipe();
        using var r = read;
        using var w = write;
        using var io = IoThread.Start("sync-over-async");
        var buffer = new byte[8];
        Assert.Equal(Refused, OnTheLoop(io, (ctx, ct) => ctx.ReadAsync(r, buffer, 0).AsTask().Wait(ct)));

        // The exact form (Result cannot be bounded, so it runs only now that detection is known to work).
        Assert.Equal(Refused, OnTheLoop(io, (ctx, ct) => _ = ctx.ReadAsync(r, buffer, 0).AsTask().Result));
        Assert.Equal(Refused, OnTheLoop(io, (ctx, ct) => _ = ctx.ReadAsync(r, buffer, 0).AsTask().GetAwaiter().GetResult()));

        // The loop goes on: data completes the reads left in flight, and the loop still runs callbacks.
        Assert.Equal(3 * 8, Libc.WriteSpan((int)w.DangerousGetHandle(), new byte[3 * 8]));
        Wait.Until(() => io.Context.InvokeAsync(() => Task.FromResult(io.Context.RequestsInFlight)).Result <= 1, () => Thread.Yield(), "the reads to complete");
    }

    [IoUringFact]
    public void Blocking_the_loop_on_a_task_that_depends_on_its_read_throws()
    {
        var (read, write) = SilentPipe();
        using var r = read;
        using var w = write;
        using var io = IoThread.Start("sync-over-async-graph");
        var buffer = new byte[8];
        Assert.Equal(Refused, OnTheLoop(io, (ctx, ct) => ReadOnce(ctx, r, buffer).Wait(ct)));
        Assert.Equal(Refused, OnTheLoop(io, (ctx, ct) => ReadThroughAChain(ctx, r, buffer).Wait(ct)));
        Assert.Equal(Refused, OnTheLoop(io, (ctx, ct) => Task.WhenAll(ctx.ReadAsync(r, buffer, 0).AsTask(), Task.CompletedTask).Wait(ct)));
        Assert.Equal(Refused, OnTheLoop(io, (ctx, ct) => ctx.ReadAsync(r, buffer, 0).AsTask().ContinueWith(t => t.Result, TaskScheduler.Default).Wait(ct)));
        Assert.Equal(Refused, OnTheLoop(io, (ctx, _) => Task.WaitAll(ctx.ReadAsync(r, buffer, 0).AsTask())));
        Assert.Equal(5 * 8, Libc.WriteSpan((int)w.DangerousGetHandle(), new byte[5 * 8]));
    }

    [IoUringFact]
    public async Task GetResult_on_an_unfinished_read_in_a_loop_callback_throws_and_leaves_the_read_alone()
    {
        var (read, write) = SilentPipe();
        using var r = read;
        using var w = write;
        using var io = IoThread.Start("early-getresult-on-loop");
        var buffer = new byte[8];
        var stillPending = await io.Context.InvokeAsync(() =>
        {
            var pending = AioContext.Current!.ReadAsync(r, buffer, 0);
            Assert.Throws<InvalidOperationException>(() => pending.GetAwaiter().GetResult());
            return Task.FromResult(pending.AsTask());
        }).WaitAsync(Wait.Default);

        // Still the same use: its own data completes it.
        Assert.Equal(8, Libc.WriteSpan((int)w.DangerousGetHandle(), [1, 2, 3, 4, 5, 6, 7, 8]));
        Assert.Equal(8, await stillPending.WaitAsync(Wait.Default));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, buffer);
    }

    [IoUringFact]
    public void A_loop_callback_may_still_block_on_other_threads_while_its_reads_are_in_flight()
    {
        var (read, write) = SilentPipe();
        using var r = read;
        using var w = write;
        using var io = IoThread.Start("blocking-but-not-on-itself");
        var buffer = new byte[8];
        var guard = GuardOf(io.Context);

        // A read awaited on the loop stays in flight throughout: the guard has loop work to look at.
        var awaited = io.Context.InvokeAsync(async () => await AioContext.Current!.ReadAsync(r, buffer, 0));
        var gate = new object();
        using var released = new ManualResetEventSlim();

        // Another thread releases each wait only once the guard has examined it, so the loop really blocked.
        void ReleaseAfterCheck(long before, Action release) => Task.Run(() =>
        {
            Wait.Until(() => guard.WaitsAllowed > before, () => Thread.Yield(), "the guard to examine the wait");
            release();
        });

        Assert.Equal("returned", OnTheLoop(io, (_, ct) =>
        {
            ReleaseAfterCheck(guard.WaitsAllowed, released.Set);
            released.Wait(ct);
        }));

        using var holding = new ManualResetEventSlim();
        using var letGo = new ManualResetEventSlim();
        var holder = Task.Run(() =>
        {
            lock (gate)
            {
                holding.Set();

                // Bounded: if the release never comes, the lock goes anyway (so the loop is not blocked for good) and
                // the holder's failure surfaces below.
                Assert.True(letGo.Wait(Wait.Default), "the loop's wait was never released");
            }
        });
        Assert.True(holding.Wait(Wait.Default));
        Assert.Equal("returned", OnTheLoop(io, (_, _) =>
        {
            ReleaseAfterCheck(guard.WaitsAllowed, letGo.Set);
            lock (gate)
            {
            }
        }));
        Wait.For(holder, "the lock holder");

        var other = new TaskCompletionSource<int>();
        Assert.Equal("returned", OnTheLoop(io, (_, ct) =>
        {
            ReleaseAfterCheck(guard.WaitsAllowed, () => other.SetResult(1));
            other.Task.Wait(ct);
        }));

        // A bounded wait on its own work ends by itself: not refused.
        Assert.Equal("returned", OnTheLoop(io, (ctx, _) => Assert.False(ctx.ReadAsync(r, buffer, 0).AsTask().Wait(20))));

        Assert.False(awaited.IsCompleted);
        Assert.Equal(16, Libc.WriteSpan((int)w.DangerousGetHandle(), new byte[16]));
        Wait.For(awaited, "the awaited read");
    }
}
