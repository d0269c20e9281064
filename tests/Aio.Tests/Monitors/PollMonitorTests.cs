using Aio.Interop;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Monitors;

/// <summary>Alone in the process: the race test keeps three threads busy for a second, which would slow timing-bound neighbours.</summary>
[Collection(ProcessStateCollection.Name)]
public class PollMonitorTests
{
    [Fact]
    public void Reading_the_outer_fds_on_another_thread_never_mixes_up_the_loops_fds_and_handlers()
    {
        // AioSource.Fds may be read on any thread (an attach does). With the poll monitor it once rebuilt the loop's own
        // pollfd and handler arrays: a read racing the loop's wait could pair one build's fds with another's handlers
        // (a handler called for another fd's readiness) or hand ppoll a count past the end of its array.
        const int Ready = 8;
        const int Toggles = 500_000;
        var t = IoThread.Start("poll-outer-fds", new AioContextOptions { Monitor = FdMonitorKind.Poll });
        int failures = 0;
        t.CallbackException += (_, _) => Interlocked.Increment(ref failures);
        var ready = new (int R, int W)[Ready];
        var empty = new (int R, int W)[Ready];
        int wrongCalls = 0;
        long readyCalls = 0;
        try
        {
            for (int i = 0; i < Ready; i++)
            {
                ready[i] = Libc.CreatePipe();
                empty[i] = Libc.CreatePipe();

                // Never drained: readable at every iteration. The empty pipes' handlers must never run.
                Assert.Equal(1, Libc.WriteSpan(ready[i].W, [1]));
                t.Context.SetFdHandler(ready[i].R, () => Interlocked.Increment(ref readyCalls), null);
            }

            bool done = false;
            var reader = new Thread(() =>
            {
                while (!Volatile.Read(ref done))
                {
                    _ = t.Context.Source.Fds.Count;
                }
            }) { IsBackground = true };
            reader.Start();

            // Each toggle changes the table's version, so the loop and the reader both have something to rebuild.
            for (int n = 0; n < Toggles; n++)
            {
                var (r, _) = empty[n % Ready];
                if (n / Ready % 2 == 0)
                {
                    t.Context.SetFdHandler(r, () => Interlocked.Increment(ref wrongCalls), null);
                }
                else
                {
                    t.Context.SetFdHandler(r, null, null);
                }
            }

            Volatile.Write(ref done, true);
            Wait.Join(reader, "the Fds reader");
            long before = Interlocked.Read(ref readyCalls);
            Wait.Until(() => Interlocked.Read(ref readyCalls) > before + Ready, () => Thread.Yield(), "the loop to keep serving the ready pipes");
        }
        finally
        {
            t.Dispose();
            foreach (var (r, w) in ready.Concat(empty))
            {
                Libc.CloseQuietly(r);
                Libc.CloseQuietly(w);
            }
        }

        Assert.True(Volatile.Read(ref wrongCalls) == 0, $"{wrongCalls} calls of an empty pipe's handler (another fd's readiness)");
        Assert.True(Volatile.Read(ref failures) == 0, $"{failures} exceptions out of the loop's iterations");
    }
}
