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
        Console.WriteLine($"ring: READ returned {n}: '{System.Text.Encoding.ASCII.GetString(buffer.GetSpan()[..n])}'");

        ReadOnALoopDrivenByHand(file);
    }

    private static void ReadOnALoopDrivenByHand(Microsoft.Win32.SafeHandles.SafeFileHandle file)
    {
        // Nothing runs this context's loop: the request would wait forever for a Poll. Drive the loop until it is done.
        using var ctx = AioContext.Create();
        var bytes = new byte[4];
        ValueTask<int> pending = ctx.ReadAsync(file, bytes, offset: 0);
        while (!pending.IsCompleted)
        {
            ctx.Poll(blocking: true);
        }

        int n = pending.GetAwaiter().GetResult();
        Console.WriteLine($"ring: hand-driven loop read {n} bytes: '{System.Text.Encoding.ASCII.GetString(bytes, 0, n)}'");
    }
}
