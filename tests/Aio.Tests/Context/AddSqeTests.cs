using System.Runtime.InteropServices;
using Aio.Interop;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

public class AddSqeTests
{
    private static AioContext NewContext()
    {
        return AioContext.Create(new AioContextOptions { Name = "addsqe" });
    }

    [IoUringFact]
    public void Default_context_on_this_machine_is_io_uring_with_modern_flags()
    {
        using var ctx = NewContext();
        Assert.Equal(FdMonitorKind.IoUring, ctx.Monitor);
        Assert.True(ctx.HasIoUring);
        Assert.NotNull(ctx.IoUring);
        Assert.True(ctx.IoUring!.SingleIssuer);
        Assert.True(ctx.IoUring.DeferTaskrun);
        Assert.True(ctx.IoUring.TaskrunFlag);
        Assert.True(ctx.IoUring.CqEntries >= 4 * ctx.IoUring.SqEntries);
    }

    [IoUringFact]
    public void Nop_completes_on_the_home_thread()
    {
        using var ctx = NewContext();
        ctx.Poll(false);
        var handler = new RecordingHandler();
        ctx.AddSqe(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0, handler);
        LoopDriver.PollUntil(ctx, () => handler.Count == 1, "the NOP completion");
        Assert.True(handler.Completions.TryPeek(out var cqe));
        Assert.Equal(0, cqe.Result);
        Assert.False(cqe.HasMore);
        Assert.Equal(Environment.CurrentManagedThreadId, Assert.Single(handler.Threads));
    }

    [IoUringFact]
    public void Read_and_write_with_data_verified()
    {
        using var ctx = NewContext();
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("f", 16384);
        int fd = Errors.Check(Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC, 0), "open");
        try
        {
            var buffer = GC.AllocateArray<byte>(4096, pinned: true);
            var handler = new RecordingHandler();
            ctx.AddSqe(
                static (ref Sqe sqe, (int Fd, nint Buf) s) => sqe.PrepRead(s.Fd, s.Buf, 4096, 8192),
                (fd, Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0)),
                handler);
            LoopDriver.PollUntil(ctx, () => handler.Count == 1, "the read");
            Assert.True(handler.Completions.TryDequeue(out var read));
            Assert.Equal(4096, read.Result);
            Assert.Equal(content.AsSpan(8192, 4096).ToArray(), buffer);

            var payload = GC.AllocateArray<byte>(512, pinned: true);
            payload.AsSpan().Fill(0xA5);
            ctx.AddSqe(
                static (ref Sqe sqe, (int Fd, nint Buf) s) => sqe.PrepWrite(s.Fd, s.Buf, 512, 100),
                (fd, Marshal.UnsafeAddrOfPinnedArrayElement(payload, 0)),
                handler);
            LoopDriver.PollUntil(ctx, () => handler.Count == 1, "the write");
            Assert.True(handler.Completions.TryDequeue(out var write));
            Assert.Equal(512, write.Result);
            var check = new byte[512];
            Assert.Equal(512, Libc.PReadSpan(fd, check, 100));
            Assert.All(check, b => Assert.Equal(0xA5, b));
        }
        finally
        {
            Libc.CloseQuietly(fd);
        }
    }

    [IoUringFact]
    public void Error_result_is_negative_errno()
    {
        using var ctx = NewContext();
        var buffer = GC.AllocateArray<byte>(16, pinned: true);
        var handler = new RecordingHandler();
        ctx.AddSqe(static (ref Sqe sqe, nint b) => sqe.PrepRead(12345, b, 16, 0), Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0), handler);
        LoopDriver.PollUntil(ctx, () => handler.Count == 1, "the failing read");
        Assert.True(handler.Completions.TryDequeue(out var cqe));
        Assert.Equal(-Errno.EBADF, cqe.Result);
    }

    [IoUringFact]
    public void Multishot_request_delivers_several_completions_to_one_handler()
    {
        using var ctx = NewContext();
        using var e = new EventNotifier();
        var handler = new RecordingHandler(_ => e.TestAndClear());
        ctx.AddSqe(static (ref Sqe sqe, int fd) => sqe.PrepPollAdd(fd, PollEvents.In, multishot: true), e.Fd, handler);
        ctx.Poll(false);
        for (int i = 1; i <= 3; i++)
        {
            e.Set();
            LoopDriver.PollUntil(ctx, () => handler.Count == i, $"multishot completion {i}");
        }

        Assert.All(handler.Completions, c => Assert.True(c.HasMore));
        Assert.All(handler.Completions, c => Assert.True((c.Result & (int)PollEvents.In) != 0));
    }

    [IoUringFact]
    public void Handler_serves_many_requests_in_flight_and_nested_poll_delivers_the_rest_in_order()
    {
        using var ctx = NewContext();
        var order = new List<int>();
        int nested = 0;
        var shared = new RecordingHandler();
        var handlers = Enumerable.Range(0, 8).Select(id => new DelegateHandler(_ =>
        {
            order.Add(id);
            if (id == 0)
            {
                // The other completions are already queued on the context: the nested loop delivers them.
                nested++;
                ctx.Poll(false);
            }
        })).ToArray();
        ctx.Poll(false);
        foreach (var h in handlers)
        {
            ctx.AddSqe(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0, h);
        }

        // One handler object serving many requests at once.
        for (int i = 0; i < 16; i++)
        {
            ctx.AddSqe(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0, shared);
        }

        LoopDriver.PollUntil(ctx, () => order.Count == 8 && shared.Count == 16, "all completions");
        Assert.Equal(1, nested);
        Assert.Equal(Enumerable.Range(0, 8), order);
        Assert.Equal(16, shared.Count);
        Assert.False(ctx.Poll(false));
    }

    [IoUringFact]
    public void Skip_success_link_and_hardlink_are_rejected_on_the_home_thread()
    {
        using var ctx = NewContext();
        ctx.Poll(false);
        var handler = new RecordingHandler();
        foreach (var flag in new[] { SqeFlags.CqeSkipSuccess, SqeFlags.IoLink, SqeFlags.IoHardlink })
        {
            Assert.Throws<ArgumentException>(() => ctx.AddSqe(static (ref Sqe sqe, SqeFlags f) =>
            {
                sqe.PrepNop();
                sqe.Flags = f;
            }, flag, handler));
        }

        ctx.Poll(false);
        Assert.Equal(0, handler.Count);
    }

    [IoUringFact]
    public void A_preparer_that_throws_or_nests_AddSqe_leaves_the_ring_usable()
    {
        using var ctx = NewContext();
        ctx.Poll(false);
        var handler = new RecordingHandler();
        Assert.Throws<InvalidDataException>(() => ctx.AddSqe(static (ref Sqe sqe, int _) => throw new InvalidDataException("prep"), 0, handler));
        InvalidOperationException? nested = null;
        ctx.AddSqe((ref Sqe sqe, int _) =>
        {
            sqe.PrepNop();
            nested = Assert.Throws<InvalidOperationException>(() => ctx.AddSqe(static (ref Sqe s, int _) => s.PrepNop(), 0, handler));
        }, 0, handler);
        Assert.NotNull(nested);
        LoopDriver.PollUntil(ctx, () => handler.Count == 1, "the outer NOP");
        ctx.Poll(false);
        Assert.Equal(1, handler.Count);
    }

    [IoUringFact]
    public void Rejected_flags_from_a_foreign_thread_complete_with_EINVAL()
    {
        using var ctx = NewContext();
        ctx.Poll(false);
        var handler = new RecordingHandler();
        Task.Run(() => ctx.AddSqe(static (ref Sqe sqe, int _) =>
        {
            sqe.PrepNop();
            sqe.Flags = SqeFlags.CqeSkipSuccess;
        }, 0, handler)).Wait(Wait.Default);
        LoopDriver.PollUntil(ctx, () => handler.Count == 1, "the EINVAL completion");
        Assert.True(handler.Completions.TryDequeue(out var cqe));
        Assert.Equal(-Errno.EINVAL, cqe.Result);
    }

    [Fact]
    public void Without_io_uring_AddSqe_is_not_supported()
    {
        using var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.Epoll });
        Assert.False(ctx.HasIoUring);
        Assert.Throws<NotSupportedException>(() => ctx.AddSqe(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0, new RecordingHandler()));
    }

    [IoUringFact]
    public void Dispose_with_requests_in_flight_calls_no_handler_and_does_not_hang()
    {
        var ctx = NewContext();
        var (r, w) = Libc.CreatePipe();
        try
        {
            var buffer = GC.AllocateArray<byte>(64, pinned: true);
            var handler = new RecordingHandler();
            for (int i = 0; i < 4; i++)
            {
                ctx.AddSqe(static (ref Sqe sqe, (int Fd, nint Buf) s) => sqe.PrepRead(s.Fd, s.Buf, 64, ulong.MaxValue), (r, Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0)), handler);
            }

            ctx.Poll(false);
            Assert.True(ctx.RequestsInFlight >= 4);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            ctx.Dispose();
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"Dispose took {sw.Elapsed}");
            Assert.Equal(0, handler.Count);
            Assert.Equal(0, ctx.RequestsInFlight);
        }
        finally
        {
            Libc.CloseQuietly(r);
            Libc.CloseQuietly(w);
        }
    }

    private sealed class DelegateHandler(Action<Cqe> action) : CqeHandler
    {
        protected internal override void OnCompletion(in Cqe cqe) => action(cqe);
    }
}
