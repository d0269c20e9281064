using System.Diagnostics;
using System.Runtime.InteropServices;
using Aio.Interop;
using Xunit;

namespace Aio.Tests.Interop;

/// <summary>The one EINTR retry loop (Interop/Eintr.cs). Real EINTR on the ring's calls is injected in RingFaultTests.</summary>
public class EintrTests
{
    [Fact]
    public void A_call_interrupted_twice_is_made_three_times_and_returns_the_last_result()
    {
        var call = new ScriptedCall(interruptions: 2, result: 7);
        Assert.Equal(7, Eintr.Retry(ref call));
        Assert.Equal(3, call.Calls);
        Assert.All(call.Timeouts[..call.Calls], t => Assert.Equal(-1, t));
    }

    [Fact]
    public void Another_error_is_returned_at_once_with_its_errno()
    {
        var call = new ScriptedCall(interruptions: 0, result: -1, errno: Errno.EBADF);
        Assert.Equal(-1, Eintr.Retry(ref call, 1_000_000));
        Assert.Equal(1, call.Calls);
        Assert.Equal(Errno.EBADF, Errors.LastErrno);
    }

    [Fact]
    public void A_retry_waits_only_for_the_time_left_and_never_longer_than_asked()
    {
        const long Timeout = 50_000_000;
        var call = new ScriptedCall(interruptions: 3, result: 0, sleepMs: 5);
        Assert.Equal(0, Eintr.Retry(ref call, Timeout));
        Assert.Equal(4, call.Calls);
        Assert.Equal(Timeout, call.Timeouts[0]);
        for (int i = 1; i < call.Calls; i++)
        {
            Assert.True(call.Timeouts[i] < call.Timeouts[i - 1], $"attempt {i} got {call.Timeouts[i]} ns after {call.Timeouts[i - 1]} ns");
            Assert.True(call.Timeouts[i] > 0, $"attempt {i} got {call.Timeouts[i]} ns with time left");
        }
    }

    [Fact]
    public void An_interruption_after_the_deadline_ends_the_wait_as_timed_out_without_another_call()
    {
        // Another call could be interrupted again (a signal storm, or strace's injected delays) and push every timer
        // of the loop back by its duration: the wait is over, and the loop's next iteration looks anyway.
        var call = new ScriptedCall(interruptions: 5, result: 3, sleepMs: 30);
        Assert.Equal(0, Eintr.Retry(ref call, 10_000_000));
        Assert.Equal(1, call.Calls);
    }

    [Fact]
    public void Zero_and_no_limit_are_passed_on_unchanged_on_every_attempt()
    {
        var poll = new ScriptedCall(interruptions: 2, result: 0);
        Eintr.Retry(ref poll, 0);
        Assert.All(poll.Timeouts[..poll.Calls], t => Assert.Equal(0, t));
        var forever = new ScriptedCall(interruptions: 2, result: 0);
        Eintr.Retry(ref forever, -1);
        Assert.All(forever.Timeouts[..forever.Calls], t => Assert.Equal(-1, t));
    }

    [Fact]
    public void A_real_ppoll_still_times_out_after_its_timeout()
    {
        var (r, w) = Libc.CreatePipe();
        try
        {
            var sw = Stopwatch.StartNew();
            Assert.Equal(0, Libc.PollOne(r, Libc.POLLIN, 20_000_000));
            Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(20), $"returned after {sw.Elapsed.TotalMilliseconds:0.0} ms");
            Libc.WriteSpan(w, [1]);
            Assert.Equal(Libc.POLLIN, Libc.PollOne(r, Libc.POLLIN, -1));
        }
        finally
        {
            Libc.CloseQuietly(r);
            Libc.CloseQuietly(w);
        }
    }

    /// <summary>Fails with EINTR a given number of times (optionally after sleeping), then returns a result; records the timeouts it was given.</summary>
    private struct ScriptedCall(int interruptions, long result, int errno = 0, int sleepMs = 0) : IInterruptibleCall
    {
        public int Calls;
        public long[] Timeouts = new long[16];

        public long Invoke(long timeoutNs)
        {
            Timeouts[Calls++] = timeoutNs;
            if (sleepMs > 0)
            {
                Thread.Sleep(sleepMs);
            }

            if (Calls <= interruptions)
            {
                Marshal.SetLastPInvokeError(Errno.EINTR);
                return -1;
            }

            Marshal.SetLastPInvokeError(errno);
            return result;
        }
    }
}
