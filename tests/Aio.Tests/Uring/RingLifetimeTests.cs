using Aio.Interop;
using Aio.Tests.Support;
using Aio.Uring;
using Xunit;

namespace Aio.Tests.Uring;

/// <summary>The ring's memory after Dispose, its size limits, and the pre-5.11 timed wait.</summary>
public class RingLifetimeTests
{
    [IoUringFact]
    public void A_disposed_ring_reads_as_empty_and_refuses_every_operation()
    {
        var ring = Ring.Create(new RingOptions { Entries = 8 });
        ring.Enable();
        ref var sqe = ref ring.NextSqe();
        sqe.PrepNop();
        sqe.UserData = 1;
        ring.SubmitAndWait(1, 1_000_000_000);
        ring.NextSqe().PrepNop();
        Assert.Equal(1u, ring.CqReady);
        Assert.Equal(1u, ring.SqReady);
        ring.Dispose();

        // Before the fix these read unmapped memory and killed the process (AccessViolation in CqReady/SqReady).
        Assert.True(ring.IsDisposed);
        Assert.Equal(0u, ring.CqReady);
        Assert.Equal(0u, ring.SqReady);
        Assert.Equal(0u, ring.SqSpaceLeft);
        Assert.Equal(0u, ring.SqFlags);
        Assert.False(ring.TaskrunPending);
        Assert.False(ring.CqOverflowPending);
        Assert.Equal(0u, ring.CqOverflowCount);
        Assert.Equal(0u, ring.SqDropped);
        Assert.Throws<ObjectDisposedException>(() => ring.NextSqe());
        Assert.Throws<ObjectDisposedException>(() => ring.TryGetCqe(out _));
        Assert.Throws<ObjectDisposedException>(() => ring.Submit());
        Assert.Throws<ObjectDisposedException>(() => ring.TrySubmit());
        Assert.Throws<ObjectDisposedException>(() => ring.SubmitAndWait(1, 0));
        Assert.Throws<ObjectDisposedException>(() => ring.GetEvents());
        Assert.Throws<ObjectDisposedException>(() => ring.Enable());
        ring.Dispose();
    }

    [IoUringFact]
    public void A_ring_of_32768_entries_keeps_single_issuer_and_defer_taskrun()
    {
        using var ring = Ring.Create(new RingOptions { Entries = 32768 });
        Assert.Equal(32768, ring.Setup.SqEntries);
        Assert.True(ring.Setup.SingleIssuer, $"flags 0x{ring.Setup.Flags:x}");
        Assert.True(ring.Setup.DeferTaskrun, $"flags 0x{ring.Setup.Flags:x}");
        Assert.Equal(65536, ring.Setup.CqEntries);
    }

    [IoUringFact]
    public void A_context_with_RingEntries_32768_keeps_the_modern_flags_and_works()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, RingEntries = 32768, Name = "big-ring" });
        Assert.True(ctx.IoUring!.SingleIssuer);
        Assert.True(ctx.IoUring.DeferTaskrun);
        var handler = new RecordingHandler();
        ctx.AddSqe(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0, handler);
        LoopDriver.PollUntil(ctx, () => handler.Count == 1, "a NOP on a 32768-entry ring");
    }

    [IoUringFact]
    public void The_pre_5_11_wait_timeout_stays_at_one_address_across_compacting_collections()
    {
        // Without EXT_ARG a TIMEOUT entry points at the timespec; the kernel reads it when it consumes the entry, so it
        // must not live inside a managed object that a compacting GC moves (it did: a field of the Ring).
        using var ring = Ring.Create(new RingOptions { Entries = 8, DisableExtArg = true });
        ring.Enable();
        ring.SubmitAndWait(1, 1_000_000);
        nint before = ring.FallbackTimeoutAddress;
        Assert.NotEqual(0, before);
        for (int i = 0; i < 3; i++)
        {
            var garbage = new List<byte[]>();
            for (int j = 0; j < 1000; j++)
            {
                garbage.Add(new byte[100]);
            }

            GC.KeepAlive(garbage);
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        ring.SubmitAndWait(1, 1_000_000);
        Assert.Equal(before, ring.FallbackTimeoutAddress);
    }

    [IoUringFact]
    public void A_pre_5_11_timed_wait_with_a_full_submission_queue_still_times_out()
    {
        using var ring = Ring.Create(new RingOptions { Entries = 4, DisableExtArg = true });
        var (r, w) = Libc.CreatePipe();
        try
        {
            int rc = int.MinValue;
            var waiter = new Thread(() =>
            {
                ring.Enable();
                for (uint i = 0; i < ring.Setup.SqEntries; i++)
                {
                    ref var sqe = ref ring.NextSqe();
                    sqe.PrepPollAdd(r, PollEvents.In);
                    sqe.UserData = 100 + i;
                }

                Assert.Equal(0u, ring.SqSpaceLeft);

                // No room for the TIMEOUT entry: before the fix the wait went unbounded.
                rc = ring.SubmitAndWait(1, 20_000_000);
            })
            { IsBackground = true };
            waiter.Start();
            if (!waiter.Join(TimeSpan.FromSeconds(5)))
            {
                // Unblock the stuck wait so the thread ends, then fail.
                Libc.WriteSpan(w, [1]);
                waiter.Join(TimeSpan.FromSeconds(5));
                Assert.Fail("a 20 ms wait with a full SQ was still sleeping after 5 s");
            }

            Assert.True(rc >= 0, $"rc {rc}");
        }
        finally
        {
            Libc.CloseQuietly(r);
            Libc.CloseQuietly(w);
        }
    }
}
