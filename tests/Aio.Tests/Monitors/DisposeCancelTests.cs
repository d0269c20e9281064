using System.Diagnostics;
using Aio.Interop;
using Aio.Monitors;
using Aio.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit;

namespace Aio.Tests.Monitors;

/// <summary>Dispose with requests in flight, on the cancellation paths of older kernels and of a kernel that cancels nothing.</summary>
public class DisposeCancelTests
{
    [IoUringFact]
    public void Dispose_cancels_each_request_by_user_data_where_cancel_any_is_unsupported()
    {
        // What kernels 5.5-5.18 need (ASYNC_CANCEL with CANCEL_ANY is EINVAL there), forced on this kernel.
        var ctx = AioContext.Create(new AioContextOptions { Monitor = FdMonitorKind.IoUring, Name = "cancel-each", DisposeCancel = CancelStrategy.EachByUserData, DisposeTimeout = TimeSpan.FromSeconds(60) });
        var pipes = Enumerable.Range(0, 3).Select(_ => Libc.CreatePipe()).ToArray();
        try
        {
            var handler = new AbandonRecorder();
            var reads = new List<ValueTask<int>>();
            foreach (var (r, _) in pipes)
            {
                ctx.AddSqe(static (ref Sqe sqe, int fd) => sqe.PrepPollAdd(fd, PollEvents.In), r, handler);
                reads.Add(ctx.ReadAsync(new SafeFileHandle(r, ownsHandle: false), new byte[16], 0));
            }

            using var e = new EventNotifier();
            ctx.SetEventNotifier(e, en => en.TestAndClear());
            ctx.Poll(false);
            Assert.True(ctx.RequestsInFlight >= 8, $"{ctx.RequestsInFlight} requests in flight");

            var sw = Stopwatch.StartNew();
            ctx.Dispose();
            sw.Stop();

            // The deadline is 60 s: a Dispose that only waited for it did not cancel anything (cancelling takes
            // milliseconds; the bound is a third of the deadline, not a speed threshold).
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"Dispose took {sw.Elapsed.TotalMilliseconds:0} ms");
            Assert.Equal(3, handler.Abandoned);
            Assert.Equal(3, handler.KernelReleased);
            Assert.Equal(0, handler.Completed);
            foreach (var read in reads)
            {
                Assert.True(read.IsCompleted, "a read was left hanging by Dispose");
                Assert.Throws<ObjectDisposedException>(() => read.GetAwaiter().GetResult());
            }
        }
        finally
        {
            ctx.Dispose();
            foreach (var (r, w) in pipes)
            {
                Libc.CloseQuietly(r);
                Libc.CloseQuietly(w);
            }
        }
    }

    [IoUringFact]
    public void Dispose_abandons_requests_the_kernel_does_not_let_go_of_at_the_deadline()
    {
        var ctx = AioContext.Create(new AioContextOptions
        {
            Monitor = FdMonitorKind.IoUring,
            Name = "cancel-none",
            DisposeCancel = CancelStrategy.None,
            DisposeTimeout = TimeSpan.FromMilliseconds(200),
        });
        var (r, w) = Libc.CreatePipe();
        try
        {
            var handler = new AbandonRecorder();
            ctx.AddSqe(static (ref Sqe sqe, int fd) => sqe.PrepPollAdd(fd, PollEvents.In), r, handler);
            var read = ctx.ReadAsync(new SafeFileHandle(r, ownsHandle: false), new byte[16], 0);
            ctx.Poll(false);

            var sw = Stopwatch.StartNew();
            ctx.Dispose();
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"Dispose took {sw.Elapsed.TotalMilliseconds:0} ms with a 200 ms deadline");
            Assert.Equal(1, handler.Abandoned);

            // The kernel may still hold it: the memory it points at must stay pinned.
            Assert.Equal(0, handler.KernelReleased);
            Assert.True(read.IsCompleted, "the read was left hanging by Dispose");
            Assert.Throws<ObjectDisposedException>(() => read.GetAwaiter().GetResult());
        }
        finally
        {
            ctx.Dispose();
            Libc.CloseQuietly(r);
            Libc.CloseQuietly(w);
        }
    }

    private sealed class AbandonRecorder : CqeHandler
    {
        public int Completed { get; private set; }

        public int Abandoned { get; private set; }

        public int KernelReleased { get; private set; }

        protected internal override void OnCompletion(in Cqe cqe) => Completed++;

        internal override void OnAbandoned(bool kernelReleased)
        {
            Abandoned++;
            if (kernelReleased)
            {
                KernelReleased++;
            }
        }
    }
}
