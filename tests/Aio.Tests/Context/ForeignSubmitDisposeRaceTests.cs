using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>
/// A request handed over from another thread at the moment the context is disposed: it either reaches the loop, or is
/// refused (ObjectDisposedException), or is abandoned (ObjectDisposedException from its awaiter); it never waits for
/// good in a queue nobody will read again.
/// </summary>
public class ForeignSubmitDisposeRaceTests
{
    private static readonly SqePreparer<int> s_nop = static (ref Sqe sqe, int _) => sqe.PrepNop();

    [IoUringFact]
    public void Requests_submitted_from_other_threads_while_the_context_is_disposed_all_end()
    {
        const int Rounds = 300;
        const int Submitters = 2;
        int ended = 0, accepted = 0;
        for (int round = 0; round < Rounds; round++)
        {
            var ctx = AioContext.Create();
            using var start = new Barrier(Submitters + 1);
            var pending = new List<Task<int>>[Submitters];
            var threads = new Thread[Submitters];
            for (int t = 0; t < Submitters; t++)
            {
                var mine = pending[t] = [];
                threads[t] = new Thread(() =>
                {
                    // Bounded, and no assertion on this raw thread (it would end the process).
                    if (!start.SignalAndWait(Wait.Default))
                    {
                        return;
                    }

                    for (int i = 0; i < 10_000; i++)
                    {
                        try
                        {
                            mine.Add(ctx.SubmitAsync(s_nop, i).AsTask());
                        }
                        catch (ObjectDisposedException)
                        {
                            return;
                        }
                    }
                });
                threads[t].Start();
            }

            Assert.True(start.SignalAndWait(Wait.Default), "the other party never reached the barrier");
            Thread.SpinWait((round % 32) * 100);
            ctx.Dispose();
            foreach (var thread in threads)
            {
                Wait.Join(thread, "a submitter");
            }

            foreach (var task in pending.SelectMany(p => p))
            {
                accepted++;
                var done = Task.WhenAny(task, Task.Delay(Wait.Default)).Result;
                Assert.True(done == task, $"round {round}: a request accepted while the context was disposed never ended");
                Assert.True(task.IsCompletedSuccessfully || task.Exception?.InnerException is ObjectDisposedException, $"round {round}: ended with {task.Exception?.InnerException}");
                ended++;
            }
        }

        Assert.Equal(accepted, ended);
    }
}
