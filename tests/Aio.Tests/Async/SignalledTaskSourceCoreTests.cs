using System.Threading.Tasks.Sources;
using Aio.Async;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Async;

/// <summary>
/// The awaiter-reset race of ManualResetValueTaskSourceCore: the core says "completed" before the completing call has
/// looked for the continuation, so an awaiter on another thread that polls IsCompleted then could reset the source and
/// register its next continuation, which that call would run at once. Socket operations, ring operations and periodic
/// timer waits are sources of this kind; the pipe round-trip test hung on it (the echo's receive pump resumed for a
/// receive that had not completed, threw, and the echo never ended). The window cannot be hit on demand, so these
/// tests pin the gate that closes it: completion is reported only once the completing call has returned.
/// </summary>
public class SignalledTaskSourceCoreTests
{
    [Fact]
    public void While_the_completing_call_runs_another_thread_sees_the_use_pending()
    {
        var source = new Source();
        short token = source.Version;
        var first = source.Next();
        ValueTaskSourceStatus seenInside = default;

        // The continuation runs inline inside SetResult (no RunContinuationsAsynchronously, no context): from there, ask
        // another thread what a poller of the same use would see.
        first.GetAwaiter().OnCompleted(() =>
        {
            var poll = Task.Run(() => source.GetStatus(token));
            Wait.For(poll, "the poller's status");
            seenInside = poll.Result;
        });
        source.Complete(7);

        Assert.Equal(ValueTaskSourceStatus.Pending, seenInside);
        Assert.Equal(ValueTaskSourceStatus.Succeeded, source.GetStatus(token));
        Assert.Equal(7, first.Result);
    }

    [Fact]
    public void A_continuation_run_by_the_completing_call_may_take_the_result_before_the_call_returned()
    {
        var source = new Source();
        var first = source.Next();
        int taken = 0;
        first.GetAwaiter().OnCompleted(() => taken = first.GetAwaiter().GetResult());

        source.Complete(5);

        Assert.Equal(5, taken);
    }

    [Fact]
    public void A_waiter_that_moved_on_inside_the_call_keeps_its_next_use_completed()
    {
        // The inline continuation takes the result, starts the next use and completes it at once (what a loop-bound
        // awaiter does when its next operation finishes synchronously). The outer call must not step the stamp back.
        var source = new Source();
        var first = source.Next();
        ValueTask<int> second = default;
        short secondToken = 0;
        first.GetAwaiter().OnCompleted(() =>
        {
            first.GetAwaiter().GetResult();
            secondToken = source.Version;
            second = source.Next();
            source.Complete(2);
        });

        source.Complete(1);

        Assert.Equal(ValueTaskSourceStatus.Succeeded, source.GetStatus(secondToken));
        Assert.True(second.IsCompleted);
        Assert.Equal(2, second.Result);
    }

    [Fact]
    public void Every_use_of_a_source_reset_by_its_awaiter_completes_once_with_its_own_value()
    {
        // Producer and awaiter on different threads, the awaiter polling first as `await` does: many uses, each value
        // delivered once and in order (the race itself is too narrow to hit here reliably; this keeps the protocol honest).
        var source = new Source(runContinuationsAsynchronously: true);
        const int Uses = 20_000;
        int begun = -1;
        var producer = new Thread(() =>
        {
            for (int i = 0; i < Uses; i++)
            {
                var spin = default(SpinWait);
                while (Volatile.Read(ref begun) != i)
                {
                    spin.SpinOnce();
                }

                source.Complete(i);
            }
        })
        { IsBackground = true };
        producer.Start();

        var consumer = Task.Run(async () =>
        {
            for (int i = 0; i < Uses; i++)
            {
                var use = source.Next();
                Volatile.Write(ref begun, i);
                Assert.Equal(i, await use);
            }
        });

        Wait.For(consumer, "every use to complete");
        Wait.Join(producer, "the producer");
    }

    /// <summary>A source reset by its awaiter, as the product's operations are.</summary>
    private sealed class Source : IValueTaskSource<int>
    {
        private SignalledTaskSourceCore<int> _core;

        public Source(bool runContinuationsAsynchronously = false)
        {
            _core.RunContinuationsAsynchronously = runContinuationsAsynchronously;
        }

        public ValueTask<int> Next() => new(this, _core.Version);

        public void Complete(int value) => _core.SetResult(value);

        public short Version => _core.Version;

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _core.OnCompleted(continuation, state, token, flags & ~ValueTaskSourceOnCompletedFlags.UseSchedulingContext);

        public int GetResult(short token)
        {
            if (_core.GetCoreStatus(token) == ValueTaskSourceStatus.Pending)
            {
                throw new InvalidOperationException("not completed");
            }

            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                _core.Reset();
            }
        }
    }
}
