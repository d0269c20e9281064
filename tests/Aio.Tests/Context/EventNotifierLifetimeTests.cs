using Aio.Interop;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Context;

/// <summary>An EventNotifier disposed while other threads use it never touches the fd number after it was closed.</summary>
public class EventNotifierLifetimeTests
{
    [Fact]
    public void Set_racing_Dispose_never_writes_to_the_fd_that_reuses_the_number()
    {
        const int Rounds = 20_000;
        EventNotifier? current = new EventNotifier();
        bool stop = false;
        int wrongErrors = 0;
        var setter = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                var e = Volatile.Read(ref current);
                try
                {
                    e?.Set();
                    e?.TestAndClear();
                }
                catch (ObjectDisposedException)
                {
                    // The only acceptable way to lose the race.
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref wrongErrors);
                }
            }
        });
        setter.Start();
        int victims = 0;
        try
        {
            for (int i = 0; i < Rounds; i++)
            {
                var old = current!;
                int number = old.Fd;
                old.Dispose();

                // The lowest free number is the one just closed (unless a parallel test took it): a "victim" eventfd
                // that nobody may write to. A write that was aimed at the disposed notifier must not land here.
                int victim = Errors.Check(Libc.EventFd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC), "eventfd");
                try
                {
                    if (victim == number)
                    {
                        victims++;
                        Assert.True(Libc.EventFdRead(victim, out _) < 0, $"round {i}: a Set on a disposed notifier wrote into fd {victim}, which reuses its number");
                    }
                }
                finally
                {
                    Libc.CloseQuietly(victim);
                }

                Volatile.Write(ref current, new EventNotifier());
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            Wait.Join(setter, "the setter thread");
            current?.Dispose();
        }

        Assert.Equal(0, wrongErrors);
        Assert.True(victims > Rounds / 2, $"the fd number was reused in only {victims} of {Rounds} rounds");
    }

    [Fact]
    public void Set_and_TestAndClear_after_Dispose_throw_ObjectDisposedException_and_Fd_is_minus_one()
    {
        var e = new EventNotifier();
        e.Dispose();
        e.Dispose();
        Assert.Equal(-1, e.Fd);
        Assert.Throws<ObjectDisposedException>(e.Set);
        Assert.Throws<ObjectDisposedException>(() => e.TestAndClear());
    }
}
