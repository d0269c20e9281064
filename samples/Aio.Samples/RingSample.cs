using Aio;

namespace AioSamples;

/// <summary>
/// Raw io_uring requests: <see cref="AioContext.AddSqe{TState}"/> with a <see cref="CqeHandler"/>, and
/// <see cref="AioContextIo.SubmitAsync{TState}"/> with an <see cref="SqePreparer{TState}"/>; then a loop that no
/// IoThread runs, driven by hand so that its await completes.
/// </summary>
internal static class RingSample
{
    public static async Task RunAsync()
    {
        string path = Path.GetFullPath("aio-sample.txt");
        File.WriteAllText(path, "read through the ring");
        try
        {
            await RunOnRingAsync(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task RunOnRingAsync(string path)
    {
        using var io = IoThread.Start("ring");
        if (!io.Context.HasIoUring)
        {
            Console.WriteLine("ring: no io_uring here (AddSqe and SubmitAsync need it)");
            return;
        }

        // AddSqe: the preparer fills the entry on the loop's thread; the handler hears the completion there.
        var handler = new NopHandler();
        io.Context.AddSqe(static (ref Sqe sqe, int _) => sqe.PrepNop(), 0, handler);
        Console.WriteLine($"ring: NOP completed with {await handler.Completed.Task}");

        // SubmitAsync: the same preparer shape, awaited; the result is the raw Cqe.Result (negative: -errno).
        using var file = File.OpenHandle(path);
        using var buffer = new AlignedBuffer(4096);          // native memory: its address stays put
        var read = (Fd: (int)file.DangerousGetHandle(), buffer.Address, Length: (uint)buffer.Length);
        int n = await io.Context.SubmitAsync(
            static (ref Sqe sqe, (int Fd, nint Address, uint Length) r) => sqe.PrepRead(r.Fd, r.Address, r.Length, 0),
            read);
        if (n < 0)
        {
            throw new IOException($"READ failed: errno {-n}");
        }

        Console.WriteLine($"ring: READ returned {n}: '{System.Text.Encoding.ASCII.GetString(buffer.GetSpan()[..n])}'");

        ReadOnALoopDrivenByHand(file);
    }

    private static void ReadOnALoopDrivenByHand(Microsoft.Win32.SafeHandles.SafeFileHandle file)
    {
        // Nothing runs this context's loop: the request would wait forever. RunUntil runs the loop on this thread until
        // the operation completes, and returns its result (or throws its exception).
        using var ctx = AioContext.Create();
        var bytes = new byte[4];
        int n = ctx.RunUntil(ctx.ReadAsync(file, bytes, offset: 0));
        Console.WriteLine($"ring: hand-driven loop read {n} bytes: '{System.Text.Encoding.ASCII.GetString(bytes, 0, n)}'");

        // Run serves the loop on this thread until the token is cancelled (here by one of the loop's own timers).
        using var stop = new CancellationTokenSource();
        using var timer = ctx.CreateTimer(AioClock.Monotonic, stop.Cancel);
        timer.ArmAfter(TimeSpan.FromMilliseconds(10));
        ctx.Run(stop.Token);
        Console.WriteLine($"ring: Run returned once its token was cancelled: {stop.IsCancellationRequested}");
    }
}
