using System.IO.Pipes;
using System.Text;
using Aio;

namespace AioSamples;

/// <summary>
/// A loop driven by hand with <see cref="AioContext.Poll(bool)"/>: an fd handler on a pipe and an
/// <see cref="EventNotifier"/>, both made ready by another thread.
/// </summary>
internal static class FdHandlerSample
{
    public static void Run()
    {
        using var ctx = AioContext.Create();          // io_uring if the kernel allows it, else poll(2)/epoll
        using var pipe = new AnonymousPipeServerStream(PipeDirection.In);
        using var writer = new AnonymousPipeClientStream(PipeDirection.Out, pipe.ClientSafePipeHandle);
        using var notifier = new EventNotifier();

        int fd = (int)pipe.SafePipeHandle.DangerousGetHandle();
        string? message = null;
        bool notified = false;
        ctx.SetFdHandler(fd, onReadable: () =>
        {
            var bytes = new byte[64];
            int n = pipe.Read(bytes);                 // level-triggered: readable, so this does not block
            message = Encoding.ASCII.GetString(bytes, 0, n);
            ctx.RemoveFdHandler(fd);                  // never called again once this returns
        }, onWritable: null);
        ctx.SetEventNotifier(notifier, n =>
        {
            notified |= n.TestAndClear();         // |=: a later wake-up that finds it clear must not undo it
        });

        var producer = new Thread(() =>
        {
            writer.Write("hello"u8);
            notifier.Set();                           // any thread
        });
        producer.Start();

        while (message is null || !notified)
        {
            ctx.Poll(blocking: true);                 // the first Poll makes this thread the home thread
        }

        producer.Join();
        ctx.SetEventNotifier(notifier, null);         // unregister before the notifier is disposed
        var stats = ctx.Statistics;
        Console.WriteLine($"fd: pipe said '{message}', notifier set: {notified}, monitor {ctx.Monitor}");
        Console.WriteLine($"fd: {stats.Iterations} iterations, {stats.FdCallbacks} fd callbacks");
    }
}
