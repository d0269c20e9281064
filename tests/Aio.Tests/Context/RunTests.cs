using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Aio.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit;

namespace Aio.Tests.Context;

public class RunTests
{
    [Theory]
    [MemberData(nameof(MonitorKinds.All), MemberType = typeof(MonitorKinds))]
    public void Run_serves_the_loop_until_the_token_is_cancelled_from_another_thread(FdMonitorKind kind)
    {
        using var ctx = MonitorKinds.Create(kind);
        using var cts = new CancellationTokenSource();
        var thread = OnThread(() => ctx.Run(cts.Token), out var failure);
        var ran = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        ctx.ScheduleOneShot(() => ran.SetResult(Environment.CurrentManagedThreadId));
        Wait.For(ran.Task, "a one-shot run by Run");
        Assert.Equal(thread.ManagedThreadId, ran.Task.Result);

        // Cancelled while the loop sleeps (nothing else to do): the cancellation must wake it.
        Wait.Until(() => ctx.Statistics.BlockingWaits > 0, () => Thread.Sleep(1), "the loop to go to sleep");
        cts.Cancel();
        Wait.Join(thread, "Run to return after the cancellation");
        Assert.Null(failure.Value);

        // The thread that ran the loop stays its home thread.
        Assert.Throws<InvalidOperationException>(() => ctx.Poll(false));
    }

    [Fact]
    public void Run_returns_after_the_iteration_in_which_a_callback_cancelled_the_token()
    {
        using var ctx = AioContext.Create();
        using var cts = new CancellationTokenSource();
        int ran = 0;
        ctx.ScheduleOneShot(() =>
        {
            cts.Cancel();
            ran++;
        });
        var thread = OnThread(() => ctx.Run(cts.Token), out var failure);
        Wait.Join(thread, "Run to return");
        Assert.Null(failure.Value);
        Assert.Equal(1, ran);
    }

    [Fact]
    public void Run_with_a_cancelled_token_returns_at_once_and_binds_no_thread()
    {
        using var ctx = AioContext.Create();
        ctx.ScheduleOneShot(() => { });
        var thread = OnThread(() => ctx.Run(new CancellationToken(canceled: true)), out var failure);
        Wait.Join(thread, "Run to return");
        Assert.Null(failure.Value);

        // Nothing ran, and this thread may still become the home thread.
        Assert.Equal(0, ctx.Statistics.Iterations);
        Assert.True(ctx.Poll(false));
    }

    [Fact]
    public void Run_returns_when_a_callback_disposes_the_context()
    {
        var ctx = AioContext.Create();
        ctx.ScheduleOneShot(ctx.Dispose);
        var thread = OnThread(() => ctx.Run(CancellationToken.None), out var failure);
        Wait.Join(thread, "Run to return after the context was disposed");
        Assert.Null(failure.Value);
        Assert.Throws<ObjectDisposedException>(() => ctx.Run(CancellationToken.None));
    }

    [Fact]
    public void A_callback_exception_propagates_out_of_Run_and_Run_can_go_on()
    {
        using var ctx = AioContext.Create();
        using var cts = new CancellationTokenSource();
        ctx.ScheduleOneShot(() => throw new FormatException("boom"));
        Assert.Throws<FormatException>(() => ctx.Run(cts.Token));
        ctx.ScheduleOneShot(cts.Cancel);
        ctx.Run(cts.Token);
        Assert.Equal(2, ctx.Statistics.BottomHalvesRun);
    }

    [Fact]
    public void Run_and_RunUntil_from_a_thread_that_does_not_own_the_loop_throw_before_changing_anything()
    {
        using var io = IoThread.Start("run-foreign");
        var ctx = io.Context;
        long iterations = ctx.Statistics.Iterations;
        var ex = Assert.Throws<InvalidOperationException>(() => ctx.Run(CancellationToken.None));
        Assert.Contains("belongs to thread", ex.Message);
        Assert.Throws<InvalidOperationException>(() => ctx.RunUntil(Task.CompletedTask));
        Assert.Throws<InvalidOperationException>(() => ctx.RunUntil(new ValueTask<int>(1)));

        // Still served by its own thread.
        Wait.For(ctx.InvokeAsync(() => Task.CompletedTask), "the IoThread to keep serving");

        // The iteration that ran the callback counts itself only when it ends, which may be after the task completed.
        Wait.Until(() => ctx.Statistics.Iterations > iterations, () => Thread.Yield(), "the IoThread's iteration count to move on");
    }

    [Fact]
    public void Run_and_RunUntil_from_a_callback_of_their_own_loop_throw_and_the_loop_goes_on()
    {
        using var ctx = AioContext.Create();
        var failures = new List<Exception>();
        ctx.ScheduleOneShot(() =>
        {
            failures.Add(Record.Exception(() => ctx.Run(CancellationToken.None))!);
            failures.Add(Record.Exception(() => ctx.RunUntil(Task.CompletedTask))!);
            failures.Add(Record.Exception(() => ctx.RunUntil(ValueTask.FromResult(1)))!);
        });
        Assert.True(ctx.Poll(false));
        Assert.Equal(3, failures.Count);
        Assert.All(failures, f => Assert.Contains("inside its own loop", Assert.IsType<InvalidOperationException>(f).Message));

        int later = 0;
        ctx.ScheduleOneShot(() => later++);
        Assert.True(ctx.Poll(false));
        Assert.Equal(1, later);
    }

    [IoUringFact]
    public void RunUntil_drives_a_ring_read_to_its_result()
    {
        using var dir = new TempDir();
        var (path, content) = dir.CreateFile("data", 8192);
        using var ctx = AioContext.Create();
        using SafeFileHandle file = File.OpenHandle(path);
        var buffer = new byte[4096];
        int read = ctx.RunUntil(ctx.ReadAsync(file, buffer, 4096));
        Assert.Equal(4096, read);
        Assert.Equal(content.AsSpan(4096, 4096).ToArray(), buffer);
    }

    [Fact]
    public void RunUntil_wakes_the_sleeping_loop_when_the_task_completes_on_another_thread()
    {
        using var ctx = AioContext.Create();
        var tcs = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var completer = OnThread(
            () =>
            {
                Wait.Until(() => ctx.Statistics.BlockingWaits > 0, () => Thread.Sleep(1), "RunUntil's loop to sleep");
                tcs.SetResult(42);
            },
            out var completerFailure);
        Assert.Equal(42, ctx.RunUntil(tcs.Task));
        Wait.Join(completer, "the completing thread");
        Assert.Null(completerFailure.Value);
    }

    [Fact]
    public void RunUntil_takes_the_result_only_after_the_source_has_run_its_continuation()
    {
        // A source is "completed" a moment before its completing thread has looked for the continuation; taking the
        // result (which lets the owner reset and reuse the source) in that moment races with the completing thread.
        using var ctx = AioContext.Create();
        var source = new EarlyCompletingSource();
        var completer = OnThread(
            () =>
            {
                Wait.Until(() => source.HasContinuation, () => Thread.Sleep(1), "RunUntil to register its continuation");
                source.MarkCompleted();
                var iterated = new ManualResetEventSlim();
                ctx.ScheduleOneShot(iterated.Set);
                Assert.True(iterated.Wait(TimeSpan.FromSeconds(10)), "the loop did not run an iteration after the mark");
                source.RunContinuation();
            },
            out var completerFailure);
        Assert.Equal(5, ctx.RunUntil(new ValueTask<int>(source, 0)));
        Wait.Join(completer, "the completing thread");
        Assert.Null(completerFailure.Value);
        Assert.True(source.ContinuationRanBeforeGetResult, "RunUntil took the result before the continuation ran");
    }

    [Fact]
    public void RunUntil_returns_what_work_on_the_loop_returns_and_rethrows_what_it_throws()
    {
        using var ctx = AioContext.Create();
        Assert.Equal(7, ctx.RunUntil(ctx.InvokeAsync(async () =>
        {
            await Task.Yield();
            Assert.Same(ctx, AioContext.Current);
            return 7;
        })));
        Assert.Equal(8, ctx.RunUntil(new ValueTask<int>(ctx.InvokeAsync(() => Task.FromResult(8)))));
        var thrown = Assert.Throws<FormatException>(() => ctx.RunUntil(ctx.InvokeAsync(async () =>
        {
            await Task.Yield();
            throw new FormatException("from the loop");
        })));
        Assert.Equal("from the loop", thrown.Message);
        Assert.Throws<FormatException>(() => ctx.RunUntil(new ValueTask(Task.FromException(new FormatException()))));
    }

    [Fact]
    public void RunUntil_throws_ObjectDisposedException_when_a_callback_disposes_the_context_first()
    {
        var ctx = AioContext.Create();
        ctx.ScheduleOneShot(ctx.Dispose);
        var never = new TaskCompletionSource();
        Assert.Throws<ObjectDisposedException>(() => ctx.RunUntil(never.Task));
    }

    [Fact]
    public void RunUntil_can_go_on_with_a_task_after_a_callback_threw()
    {
        using var ctx = AioContext.Create();
        var tcs = new TaskCompletionSource<int>();
        ctx.ScheduleOneShot(() => throw new FormatException("boom"));
        ctx.ScheduleOneShot(() => ctx.ScheduleOneShot(() => tcs.SetResult(3)));
        Assert.Throws<FormatException>(() => ctx.RunUntil(tcs.Task));
        Assert.Equal(3, ctx.RunUntil(tcs.Task));
    }

    private static Thread OnThread(Action action, out StrongBox<Exception?> failure)
    {
        var box = new StrongBox<Exception?>();
        failure = box;
        var thread = new Thread(() =>
        {
            try
            {
                action();
            }
            catch (Exception ex)
            {
                box.Value = ex;
            }
        })
        {
            IsBackground = true,
        };
        thread.Start();
        return thread;
    }

    /// <summary>A source that reports completion before it runs its continuation, when the test says so.</summary>
    private sealed class EarlyCompletingSource : IValueTaskSource<int>
    {
        private volatile bool _completed;
        private volatile bool _continuationRan;
        private Action<object?>? _continuation;
        private object? _state;

        public bool HasContinuation => Volatile.Read(ref _continuation) is not null;

        public bool ContinuationRanBeforeGetResult { get; private set; }

        public void MarkCompleted() => _completed = true;

        public void RunContinuation()
        {
            _continuationRan = true;
            _continuation!(_state);
        }

        public int GetResult(short token)
        {
            ContinuationRanBeforeGetResult = _continuationRan;
            return 5;
        }

        public ValueTaskSourceStatus GetStatus(short token) =>
            _completed ? ValueTaskSourceStatus.Succeeded : ValueTaskSourceStatus.Pending;

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        {
            _state = state;
            Volatile.Write(ref _continuation, continuation);
        }
    }
}
