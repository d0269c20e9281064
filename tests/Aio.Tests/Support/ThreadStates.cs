namespace Aio.Tests.Support;

/// <summary>What /proc says a thread of this process is doing.</summary>
public static class ThreadStates
{
    /// <summary>The thread's state in /proc is S (interruptible sleep: a poll, an io_uring wait, a futex).</summary>
    public static bool IsSleeping(int tid)
    {
        string stat = File.ReadAllText($"/proc/self/task/{tid}/stat");
        return stat[stat.LastIndexOf(')') + 2] == 'S';
    }
}
