using System.Runtime.InteropServices;
using Aio.Interop;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>QEMU's aio-gsource expectations, for a plain ppoll outer loop and for real GLib, on every monitor.</summary>
public class OuterLoopTests
{
    [Theory]
    [MemberData(nameof(OuterCases.All), MemberType = typeof(OuterCases))]
    public void Nothing_to_do_and_notify(bool glib, FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var loop = new OuterDriver(ctx, glib);
        loop.IterateUntilIdle();
        Assert.False(loop.Iterate(false));
        ctx.Notify();
        loop.IterateUntilIdle();
        Assert.False(loop.Iterate(false));
    }

    [Theory]
    [MemberData(nameof(OuterCases.All), MemberType = typeof(OuterCases))]
    public void Bottom_half_runs_once(bool glib, FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var loop = new OuterDriver(ctx, glib);
        loop.IterateUntilIdle();
        int n = 0;
        using var bh = ctx.CreateBottomHalf(() => n++);
        bh.Schedule();
        Assert.True(loop.Iterate(true));
        Assert.Equal(1, n);
        Assert.False(loop.Iterate(false));
        Assert.Equal(1, n);
    }

    [Theory]
    [MemberData(nameof(OuterCases.All), MemberType = typeof(OuterCases))]
    public void Self_rescheduling_bottom_half_reaches_ten(bool glib, FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var loop = new OuterDriver(ctx, glib);
        loop.IterateUntilIdle();
        int n = 0;
        BottomHalf? bh = null;
        bh = ctx.CreateBottomHalf(() =>
        {
            if (++n < 10)
            {
                bh!.Schedule();
            }
        });
        bh.Schedule();
        Assert.True(loop.Iterate(false));
        Assert.Equal(1, n);
        Assert.True(loop.Iterate(true));
        Assert.Equal(2, n);
        loop.IterateUntilIdle();
        Assert.Equal(10, n);
        bh.Dispose();
    }

    [Theory]
    [MemberData(nameof(OuterCases.All), MemberType = typeof(OuterCases))]
    public void Cancelled_and_deleted_bottom_halves_never_run(bool glib, FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var loop = new OuterDriver(ctx, glib);
        loop.IterateUntilIdle();
        int n = 0;
        using var cancelled = ctx.CreateBottomHalf(() => n++);
        var deleted = ctx.CreateBottomHalf(() => n++);
        cancelled.Schedule();
        cancelled.Cancel();
        deleted.Schedule();
        deleted.Dispose();
        loop.IterateUntilIdle();
        Assert.Equal(0, n);
    }

    [Theory]
    [MemberData(nameof(OuterCases.All), MemberType = typeof(OuterCases))]
    public void Self_deleting_bottom_halves_reach_their_limits(bool glib, FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var loop = new OuterDriver(ctx, glib);
        loop.IterateUntilIdle();
        var (limits, counts) = Scenarios.ScheduleSelfDeletingBottomHalves(ctx);
        Assert.True(loop.Iterate(false));
        Assert.Equal([1, 1, 1, 1], counts);
        loop.IterateUntilIdle();
        Assert.Equal(limits, counts);
    }

    [Theory]
    [MemberData(nameof(OuterCases.All), MemberType = typeof(OuterCases))]
    public void Event_notifier_dispatch_and_ten_resets(bool glib, FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var loop = new OuterDriver(ctx, glib);
        using var e = new EventNotifier();
        int runs = 0;
        int counter = 0;
        ctx.SetEventNotifier(e, en =>
        {
            Assert.True(en.TestAndClear());
            runs++;
            if (--counter > 0)
            {
                en.Set();
            }
        });
        loop.IterateUntilIdle();
        e.Set();
        counter = 1;
        loop.IterateUntil(() => runs == 1, "the notifier");
        loop.IterateUntilIdle();
        Assert.Equal(1, runs);

        runs = 0;
        counter = 10;
        e.Set();
        loop.IterateUntil(() => counter == 0, "ten resets");
        loop.IterateUntilIdle();
        Assert.Equal(10, runs);
        ctx.SetEventNotifier(e, null);
        loop.IterateUntilIdle();
    }

    [Theory]
    [MemberData(nameof(OuterCases.All), MemberType = typeof(OuterCases))]
    public void Timer_fires_only_when_iterated_and_never_early(bool glib, FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var loop = new OuterDriver(ctx, glib);
        loop.IterateUntilIdle();
        const long Period = 750_000_000;
        int fired = 0;
        long second = 0;
        AioTimer? timer = null;
        timer = ctx.CreateTimer(AioClock.Monotonic, () =>
        {
            if (++fired == 1)
            {
                second = ctx.Now(AioClock.Monotonic) + Period;
                timer!.ArmAt(second);
            }
        });
        long first = ctx.Now(AioClock.Monotonic) + Period;
        timer.ArmAt(first);
        Assert.False(loop.Iterate(false));
        Thread.Sleep(1000);   // the scenario: time passes while nobody iterates
        Assert.Equal(0, fired);
        loop.IterateUntil(() => fired == 1, "the first expiry");
        loop.IterateUntil(() => fired == 2, "the re-armed expiry");
        Assert.True(ctx.Now(AioClock.Monotonic) >= second, "fired before its deadline");
        timer.Dispose();
    }

    [IoUringTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void Add_sqe_from_the_loop_and_from_another_thread_completes_under_the_outer_loop(bool glib)
    {
        // AddSqe needs io_uring; the other cases above cover the monitors.
        const FdMonitorKind kind = FdMonitorKind.IoUring;

        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("f", 4096);
        int fd = Errors.Check(Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open");
        try
        {
            using var ctx = MonitorKinds.Create(kind);
            using var loop = new OuterDriver(ctx, glib);
            loop.IterateUntilIdle();
            var handler = new RecordingHandler();
            var buffer = GC.AllocateArray<byte>(4096, pinned: true);
            nint address = Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0);
            ctx.AddSqe(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0, handler);
            ctx.AddSqe(static (ref Sqe sqe, (int Fd, nint A) s) => sqe.PrepRead(s.Fd, s.A, 4096, 0), (fd, address), handler);
            loop.IterateUntil(() => handler.Count == 2, "home-thread requests");
            Assert.Equal(content, buffer);

            for (int i = 0; i < 50; i++)
            {
                int before = handler.Count;
                var t = Task.Run(() => ctx.AddSqe(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0, handler));
                loop.IterateUntil(() => handler.Count == before + 1, $"foreign request {i}");
                Wait.For(t, "the foreign submitter");
            }

            // Task work: an fd fires and the outer loop is asked right away.
            using var e = new EventNotifier();
            int runs = 0;
            ctx.SetEventNotifier(e, en => { en.TestAndClear(); runs++; });
            loop.IterateUntilIdle();
            e.Set();
            loop.IterateUntil(() => runs == 1, "the fd completion held as task work");
            ctx.SetEventNotifier(e, null);
            loop.IterateUntilIdle();
        }
        finally
        {
            Libc.CloseQuietly(fd);
        }
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Detaching_with_work_pending_and_disposing_while_attached_are_safe(FdMonitorKind kind)
    {
        var ctx = MonitorKinds.Create(kind);
        using (var loop = new OuterDriver(ctx, glib: true))
        {
            loop.IterateUntilIdle();
            int n = 0;
            ctx.ScheduleOneShot(() => n++);
            loop.Detach();
            loop.IterateUntilIdle();
            Assert.Equal(0, n);

            // The work is still there for the next driver.
            Assert.True(ctx.Poll(false));
            Assert.Equal(1, n);
        }

        var loop2 = new OuterDriver(ctx, glib: true);
        loop2.IterateUntilIdle();
        ctx.ScheduleOneShot(() => { });
        ctx.Dispose();
        loop2.IterateUntilIdle();   // GLib still holds the source: its callbacks must see the disposed context and do nothing
        loop2.Dispose();
    }

    [Fact]
    public void Exceptions_inside_glib_are_reported_not_fatal()
    {
        using var ctx = AioContext.Create();
        using var loop = new OuterDriver(ctx, glib: true);
        var reported = new List<Exception>();
        loop.Attachment!.CallbackException += reported.Add;
        ctx.ScheduleOneShot(() => throw new FormatException("inside GLib"));
        loop.IterateUntilIdle();
        Assert.IsType<FormatException>(Assert.Single(reported));

        // A subscriber that throws in turn (a failing logger) must not cross GLib's native frames: that ends the
        // process. The subscribers after it still hear of the failure.
        var second = new List<Exception>();
        loop.Attachment.CallbackException += _ => throw new InvalidOperationException("the handler failed");
        loop.Attachment.CallbackException += second.Add;
        ctx.ScheduleOneShot(() => throw new FormatException("again"));
        loop.IterateUntilIdle();
        Assert.Equal(2, reported.Count);
        Assert.IsType<FormatException>(Assert.Single(second));
        int n = 0;
        ctx.ScheduleOneShot(() => n++);
        loop.IterateUntilIdle();
        Assert.Equal(1, n);
    }

    [Fact]
    public void Poll_monitor_shows_every_fd_and_raises_fds_changed()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Poll });
        int changes = 0;
        ctx.Source.FdsChanged += () => changes++;
        ctx.Source.Prepare(out _);
        int before = ctx.Source.Fds.Count;
        using var e = new EventNotifier();
        ctx.SetEventNotifier(e, en => en.TestAndClear());
        ctx.Source.Prepare(out _);
        Assert.Equal(before + 1, ctx.Source.Fds.Count);
        Assert.Contains(ctx.Source.Fds, f => f.Fd == e.Fd && f.Events == PollEvents.In);
        Assert.True(changes >= 2);
        ctx.Source.Check();
        ctx.Source.Dispatch();
        ctx.SetEventNotifier(e, null);

        using var uring = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Epoll });
        Assert.Single(uring.Source.Fds);
    }

    [IoUringFact]
    public void Outer_loop_moves_a_defer_taskrun_ring_to_coop_taskrun_and_keeps_fd_handlers()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
        using var e = new EventNotifier();
        int runs = 0;
        ctx.SetEventNotifier(e, en => { en.TestAndClear(); runs++; });
        ctx.Poll(false);
        Assert.True(ctx.IoUring!.DeferTaskrun);

        // A sleeping outer loop is not woken by DEFER_TASKRUN task work, so the first Prepare swaps the ring.
        using var loop = new OuterDriver(ctx, glib: false);
        loop.IterateUntilIdle();
        Assert.False(ctx.IoUring!.DeferTaskrun);
        Assert.True(ctx.IoUring.CoopTaskrun);
        int sleeperTid = Libc.GetTid();
        var setter = Task.Run(() =>
        {
            // Once the outer loop's thread sleeps: the event must wake it, not find it awake.
            Wait.Until(() => ThreadStates.IsSleeping(sleeperTid), () => Thread.Yield(), "the outer loop's thread to sleep");
            e.Set();
        });
        loop.IterateUntil(() => runs == 1, "the handler, re-armed on the new ring, woken while the outer loop sleeps");
        Wait.For(setter, "the setter");
        ctx.SetEventNotifier(e, null);
    }

    [IoUringFact]
    public void Outer_loop_attached_with_a_request_in_flight_serves_it_and_swaps_the_ring_once_it_is_done()
        => ServesInFlightRequestThenSwaps(glib: false);

    [IoUringFact]
    public void GLib_attached_with_a_request_in_flight_serves_it_and_swaps_the_ring_once_it_is_done()
        => ServesInFlightRequestThenSwaps(glib: true);

    [IoUringFact]
    public void An_OuterLoop_context_sleeps_without_a_limit_with_a_request_in_flight_and_is_woken_by_its_completion()
        => OuterLoopContextIsWokenByItsCompletion(glib: false);

    [IoUringFact]
    public void Under_GLib_an_OuterLoop_context_sleeps_without_a_limit_with_a_request_in_flight_and_is_woken_by_its_completion()
        => OuterLoopContextIsWokenByItsCompletion(glib: true);

    private static void OuterLoopContextIsWokenByItsCompletion(bool glib)
    {
        // Without the option, a request in flight when the outer loop first prepares keeps the DEFER_TASKRUN ring, and
        // the outer loop's sleeps are cut to 1 ms until it ends (a listener's accept never does).
        using (var plain = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring }))
        {
            var (pr, pw) = Libc.CreatePipe();
            try
            {
                Assert.Equal(1, PrepareWithAPollInFlight(plain, pr, new RecordingHandler()));
            }
            finally
            {
                Libc.CloseQuietly(pr);
                Libc.CloseQuietly(pw);
            }
        }

        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, OuterLoop = true });
        Assert.False(ctx.IoUring!.DeferTaskrun);
        Assert.True(ctx.IoUring.CoopTaskrun);
        var (r, w) = Libc.CreatePipe();
        try
        {
            var handler = new RecordingHandler();
            Assert.Equal(-1, PrepareWithAPollInFlight(ctx, r, handler));

            // The outer loop sleeps in poll(2) until the completion itself wakes it. A watchdog timer bounds that sleep,
            // so a completion that cannot wake it fails the test instead of hanging it.
            using var loop = new OuterDriver(ctx, glib);
            bool watchdog = false;
            using var timer = ctx.CreateTimer(AioClock.Monotonic, () => watchdog = true);
            timer.ArmAfter(TimeSpan.FromSeconds(10));   // before the driver's own 20 s bounds: this message is the one reported
            int sleeperTid = Libc.GetTid();
            var writer = Task.Run(() =>
            {
                // Once the outer loop's thread sleeps: the event must wake it, not find it awake.
                Wait.Until(() => ThreadStates.IsSleeping(sleeperTid), () => Thread.Yield(), "the outer loop's thread to sleep");
                Libc.WriteSpan(w, [1]);
            });
            loop.IterateUntil(() => handler.Count == 1 || watchdog, "the poll request's completion, while the outer loop sleeps");
            Assert.False(watchdog, "the completion did not wake the sleeping outer loop; the watchdog timer did");
            Assert.Equal(1, handler.Count);
            Wait.For(writer, "the writer");
            Assert.False(ctx.IoUring!.DeferTaskrun);
        }
        finally
        {
            Libc.CloseQuietly(r);
            Libc.CloseQuietly(w);
        }
    }

    /// <summary>Starts a POLL_ADD on <paramref name="fd"/> and returns the timeout an outer loop's Prepare then reports.</summary>
    private static int PrepareWithAPollInFlight(AioContext ctx, int fd, RecordingHandler handler)
    {
        ctx.Poll(false);
        ctx.AddSqe(static (ref Sqe sqe, int fd) => sqe.PrepPollAdd(fd, PollEvents.In), fd, handler);
        ctx.Poll(false);
        Assert.False(ctx.Source.Prepare(out int timeoutMs));
        ctx.Source.Check();
        return timeoutMs;
    }

    private static void ServesInFlightRequestThenSwaps(bool glib)
    {
        // Before: Prepare threw on every iteration while a request was in flight (under GLib: one line on stderr per
        // iteration, and the DEFER_TASKRUN ring was never swapped). Now the swap waits, and meanwhile the outer loop's
        // sleeps are short enough for the completion (task work that does not wake it) to be run by Check/Dispatch.
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring });
        var (r, w) = Libc.CreatePipe();
        try
        {
            ctx.Poll(false);
            var handler = new RecordingHandler();
            ctx.AddSqe(static (ref Sqe sqe, int fd) => sqe.PrepPollAdd(fd, PollEvents.In), r, handler);
            ctx.Poll(false);
            Assert.True(ctx.IoUring!.DeferTaskrun);

            using var loop = new OuterDriver(ctx, glib);
            var errors = new List<Exception>();
            if (loop.Attachment is { } attachment)
            {
                attachment.CallbackException += errors.Add;
            }

            for (int i = 0; i < 5; i++)
            {
                loop.Iterate(false);
            }

            Assert.Empty(errors);
            Assert.True(ctx.IoUring!.DeferTaskrun, "the ring was swapped with a request in flight");
            int sleeperTid = Libc.GetTid();
            var writer = Task.Run(() =>
            {
                // Once the outer loop's thread sleeps: the event must wake it, not find it awake.
                Wait.Until(() => ThreadStates.IsSleeping(sleeperTid), () => Thread.Yield(), "the outer loop's thread to sleep");
                Libc.WriteSpan(w, [1]);
            });
            loop.IterateUntil(() => handler.Count == 1, "the poll request's completion, while the outer loop sleeps");
            Wait.For(writer, "the writer");
            loop.IterateUntilIdle();
            loop.Iterate(false);
            Assert.Empty(errors);
            Assert.False(ctx.IoUring!.DeferTaskrun, "the ring was not swapped once nothing was in flight");
            Assert.True(ctx.IoUring.CoopTaskrun);

            // The new ring serves requests too.
            var nop = new RecordingHandler();
            ctx.AddSqe(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0, nop);
            loop.IterateUntil(() => nop.Count == 1, "a NOP on the swapped ring");
        }
        finally
        {
            Libc.CloseQuietly(r);
            Libc.CloseQuietly(w);
        }
    }

    [Theory]
    [MemberData(nameof(OuterCases.All), MemberType = typeof(OuterCases))]
    public void Changing_a_handler_from_writable_to_readable_is_followed_by_the_outer_loop(bool glib, FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var loop = new OuterDriver(ctx, glib);
        using var pair = new SocketPair();
        int writable = 0;
        int readable = 0;
        ctx.SetFdHandler(pair.A, null, () => writable++);
        loop.IterateUntil(() => writable > 0, "the writable callback");
        ctx.SetFdHandler(pair.A, () =>
        {
            readable++;
            pair.ReadA(new byte[16]);
        }, null);
        loop.IterateUntilIdle();
        int writesBefore = writable;
        int sleeperTid = Libc.GetTid();
        var writer = Task.Run(() =>
        {
            // Once the outer loop's thread sleeps: the event must wake it, not find it awake.
            Wait.Until(() => ThreadStates.IsSleeping(sleeperTid), () => Thread.Yield(), "the outer loop's thread to sleep");
            pair.WriteB([1, 2, 3]);
        });
        loop.IterateUntil(() => readable == 1, "the readable callback after the events changed");
        Wait.For(writer, "the writer");
        Assert.Equal(writesBefore, writable);
        ctx.RemoveFdHandler(pair.A);
        loop.IterateUntilIdle();
    }

    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Prepare_rounds_the_timeout_up_and_reports_ready_work(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        var source = ctx.Source;
        Assert.False(source.Prepare(out int none));
        Assert.Equal(-1, none);
        source.Check();

        using var timer = ctx.CreateTimer(AioClock.Monotonic, () => { });
        // A deadline half-way between two milliseconds, far enough away that a preempted test thread still sees it
        // pending: the timeout rounds up (never early), by less than a millisecond.
        long deadline = ctx.Now(AioClock.Monotonic) + 1_500_500_000;
        timer.ArmAt(deadline);
        long before = ctx.Now(AioClock.Monotonic);
        Assert.False(source.Prepare(out int ms));
        long after = ctx.Now(AioClock.Monotonic);
        Assert.True(ms * 1_000_000L >= deadline - after, $"{ms} ms is early for a deadline {deadline - after} ns away");
        Assert.True(ms * 1_000_000L < deadline - before + 1_000_000, $"{ms} ms is more than rounding up {deadline - before} ns");
        source.Check();
        timer.Cancel();

        ctx.ScheduleOneShot(() => { });
        Assert.True(source.Prepare(out int zero));
        Assert.Equal(0, zero);
        source.Dispatch();
        Assert.False(source.Prepare(out _));
        Assert.False(source.Check());
    }
}
