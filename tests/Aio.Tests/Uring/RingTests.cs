using System.Runtime.InteropServices;
using Aio.Interop;
using Aio.Tests.Support;
using Aio.Uring;
using Xunit;

namespace Aio.Tests.Uring;

public class RingTests
{
    private static Ring NewRing(uint entries = 8, uint forbidden = 0, bool disableExtArg = false)
    {
        var ring = Ring.Create(new RingOptions { Entries = entries, ForbiddenFlags = forbidden, DisableExtArg = disableExtArg });
        ring.Enable();
        return ring;
    }

    private static Cqe WaitOne(Ring ring)
    {
        for (int i = 0; i < 100; i++)
        {
            if (ring.TryGetCqe(out var cqe))
            {
                return cqe;
            }

            ring.SubmitAndWait(1, 5_000_000_000);
        }

        Assert.Fail("no completion arrived");
        return default;
    }

    [Fact]
    public void Nop_round_trip()
    {
        using var ring = NewRing();
        ref var sqe = ref ring.NextSqe();
        sqe.PrepNop();
        sqe.UserData = 1234;
        Assert.Equal(1, ring.SubmitAndWait(1, -1));
        var cqe = WaitOne(ring);
        Assert.Equal(1234UL, cqe.UserData);
        Assert.Equal(0, cqe.Result);
        Assert.False(ring.TryGetCqe(out _));
    }

    [Fact]
    public void Ten_thousand_nops_through_an_eight_entry_queue()
    {
        using var ring = NewRing(8);
        Assert.Equal(8, ring.Setup.SqEntries);
        var seen = new bool[10_000];
        int reaped = 0;
        for (int i = 0; i < seen.Length; i++)
        {
            // NextSqe submits by itself when the queue is full: the full-queue path.
            ref var sqe = ref ring.NextSqe();
            sqe.PrepNop();
            sqe.UserData = (ulong)i;
            while (ring.TryGetCqe(out var cqe))
            {
                Assert.False(seen[cqe.UserData], $"completion {cqe.UserData} seen twice");
                seen[cqe.UserData] = true;
                reaped++;
            }
        }

        ring.Submit();
        Wait.Until(() => reaped == seen.Length, () =>
        {
            ring.SubmitAndWait(1, 1_000_000_000);
            while (ring.TryGetCqe(out var cqe))
            {
                Assert.False(seen[cqe.UserData]);
                seen[cqe.UserData] = true;
                reaped++;
            }
        }, "10,000 NOP completions");
        Assert.All(seen, Assert.True);
    }

    [Fact]
    public void More_in_flight_than_cq_entries_loses_nothing()
    {
        using var ring = NewRing(8);
        int total = ring.Setup.CqEntries * 3;
        for (int i = 0; i < total; i++)
        {
            ref var sqe = ref ring.NextSqe();
            sqe.PrepNop();
            sqe.UserData = (ulong)i;
            if (ring.SqSpaceLeft == 0)
            {
                Assert.True(ring.Submit() >= 0);
            }
        }

        ring.Submit();
        Assert.True(ring.CqOverflowPending, "the kernel should be holding overflowed completions");
        var seen = new int[total];
        int count = 0;
        Wait.Until(() => count == total, () =>
        {
            while (ring.TryGetCqe(out var cqe))
            {
                seen[cqe.UserData]++;
                count++;
            }
        }, "every overflowed completion");
        Assert.All(seen, n => Assert.Equal(1, n));
        Assert.Equal(0u, ring.CqOverflowCount);
    }

    [Fact]
    public void Read_and_write_against_a_file()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("data", 8192);
        int fd = Errors.Check(Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC, 0), "open");
        try
        {
            using var ring = NewRing();
            var buffer = GC.AllocateArray<byte>(4096, pinned: true);
            ref var sqe = ref ring.NextSqe();
            sqe.PrepRead(fd, Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0), 4096, 4096);
            sqe.UserData = 1;
            ring.SubmitAndWait(1, -1);
            var cqe = WaitOne(ring);
            Assert.Equal(4096, cqe.Result);
            Assert.Equal(content.AsSpan(4096, 4096).ToArray(), buffer);

            var payload = GC.AllocateArray<byte>(100, pinned: true);
            payload.AsSpan().Fill(0x5A);
            ref var w = ref ring.NextSqe();
            w.PrepWrite(fd, Marshal.UnsafeAddrOfPinnedArrayElement(payload, 0), 100, 10);
            w.UserData = 2;
            ring.SubmitAndWait(1, -1);
            cqe = WaitOne(ring);
            Assert.Equal(2UL, cqe.UserData);
            Assert.Equal(100, cqe.Result);
            var check = new byte[100];
            Assert.Equal(100, Libc.PReadSpan(fd, check, 10));
            Assert.All(check, b => Assert.Equal(0x5A, b));
        }
        finally
        {
            Libc.CloseQuietly(fd);
        }
    }

    [Fact]
    public void Request_on_a_bad_fd_completes_with_EBADF()
    {
        using var ring = NewRing();
        var buffer = GC.AllocateArray<byte>(16, pinned: true);
        ref var sqe = ref ring.NextSqe();
        sqe.PrepRead(9999, Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0), 16, 0);
        ring.SubmitAndWait(1, -1);
        Assert.Equal(-Errno.EBADF, WaitOne(ring).Result);
    }

    [Fact]
    public void Multishot_poll_posts_several_completions_with_more()
    {
        using var ring = NewRing();
        int efd = Errors.Check(Libc.EventFd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC), "eventfd");
        try
        {
            ref var sqe = ref ring.NextSqe();
            sqe.PrepPollAdd(efd, PollEvents.In, multishot: true);
            sqe.UserData = 7;
            ring.Submit();
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(8, Libc.EventFdWrite(efd, 1));
                var cqe = WaitOne(ring);
                Assert.Equal(7UL, cqe.UserData);
                Assert.True(cqe.HasMore, "a multishot poll keeps going");
                Assert.True((cqe.Result & (int)PollEvents.In) != 0);
                Assert.Equal(8, Libc.EventFdRead(efd, out _));
            }
        }
        finally
        {
            Libc.CloseQuietly(efd);
        }
    }

    [Fact]
    public void Probe_lists_nop_and_read()
    {
        using var ring = NewRing();
        Assert.True(ring.Supports(IoUringOpcode.Nop));
        Assert.True(ring.Supports(IoUringOpcode.Read));
        Assert.True(ring.Supports(IoUringOpcode.PollAdd));
    }

    [Fact]
    public void This_kernel_accepts_single_issuer_and_defer_taskrun()
    {
        using var ring = NewRing();
        Assert.True(ring.Setup.SingleIssuer, $"flags 0x{ring.Setup.Flags:x}");
        Assert.True(ring.Setup.DeferTaskrun, $"flags 0x{ring.Setup.Flags:x}");
        Assert.True(ring.Setup.TaskrunFlag);
        Assert.True(ring.Setup.CqEntries >= 4 * ring.Setup.SqEntries);
    }

    [Fact]
    public void Lower_tier_is_chosen_when_the_best_flags_are_refused()
    {
        using var ring = NewRing(forbidden: IoUringConstants.SetupSingleIssuer | IoUringConstants.SetupDeferTaskrun);
        Assert.False(ring.Setup.SingleIssuer);
        Assert.True(ring.Setup.CoopTaskrun);
        Assert.True(ring.Setup.TaskrunFlag);
        ref var sqe = ref ring.NextSqe();
        sqe.PrepNop();
        ring.SubmitAndWait(1, -1);
        Assert.Equal(0, WaitOne(ring).Result);
    }

    [Fact]
    public void Wait_timeout_without_ext_arg_uses_a_hidden_timeout_request()
    {
        using var ring = NewRing(disableExtArg: true);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        ring.SubmitAndWait(1, 20_000_000);
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(15), $"returned after {sw.Elapsed.TotalMilliseconds} ms");
        Assert.False(ring.TryGetCqe(out _), "the internal timeout completion is never reported");
    }

    [Fact]
    public void Wait_with_timeout_returns_when_nothing_completes()
    {
        using var ring = NewRing();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, ring.SubmitAndWait(1, 20_000_000));
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(15), $"returned after {sw.Elapsed.TotalMilliseconds} ms");
    }

    [Fact]
    public void Second_thread_entering_is_refused_before_the_kernel()
    {
        using var ring = NewRing();
        Exception? caught = null;
        var t = new Thread(() =>
        {
            try
            {
                ring.Submit();
                ring.SubmitAndWait(0, 0);
            }
            catch (Exception ex)
            {
                caught = ex;
            }
        });
        t.Start();
        Wait.Join(t, "the foreign thread");
        var ioe = Assert.IsType<InvalidOperationException>(caught);
        Assert.Contains("owner thread", ioe.Message);
    }

    [Fact]
    public void Disabled_ring_binds_to_the_enabling_thread()
    {
        using var ring = Ring.Create(new RingOptions { Entries = 4 });
        Assert.False(ring.IsBound);
        Assert.Throws<InvalidOperationException>(() => ring.Submit());
        var t = new Thread(() =>
        {
            ring.Enable();
            ref var sqe = ref ring.NextSqe();
            sqe.PrepNop();
            ring.SubmitAndWait(1, -1);
        });
        t.Start();
        Wait.Join(t, "the owner thread");
        Assert.Throws<InvalidOperationException>(() => ring.Enable());
        Assert.Equal(1u, ring.CqReady);
    }

    [Fact]
    public void Registered_ring_fd_is_used_for_enter()
    {
        using var ring = NewRing();
        Assert.True(ring.RegisterRingFd());
        ref var sqe = ref ring.NextSqe();
        sqe.PrepNop();
        ring.SubmitAndWait(1, -1);
        Assert.Equal(0, WaitOne(ring).Result);
    }

    [Fact]
    public void Dispose_twice_is_safe_and_use_after_dispose_throws()
    {
        var ring = NewRing();
        ring.Dispose();
        ring.Dispose();
        Assert.Throws<ObjectDisposedException>(() => ring.Submit());
        Assert.Throws<ObjectDisposedException>(() => ring.TryGetCqe(out _));
        Assert.Throws<ObjectDisposedException>(() => ring.NextSqe());
    }

    [Fact]
    public void Invalid_entry_count_is_an_argument_error()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Ring.Create(new RingOptions { Entries = 0 }));
    }
}
