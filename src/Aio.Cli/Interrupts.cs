using System.Runtime.InteropServices;

namespace Aio.Cli;

/// <summary>
/// SIGINT (Ctrl-C) and SIGTERM for a command that fills a scratch file and runs I/O: the first cancels
/// <see cref="Token"/> (the command stops, prints what it measured and deletes its file on the way out); the second
/// deletes the scratch file and lets the signal's default action end the process at once, for a run stuck in a
/// request on a device that does not answer (such a request checks no token). Once the requests have ended
/// (<see cref="Settle"/>), the next signal only says the command is finishing: a quick double Ctrl-C, whose second
/// press lands while the results print or the scratch file is deleted, does not lose the results; one more ends it.
/// </summary>
internal sealed class Interrupts : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration _sigint;
    private readonly PosixSignalRegistration _sigterm;
    private ScratchFile? _scratch;
    private int _signals;

    // The signal count when the requests ended; -1 while they run.
    private int _settledAt = -1;

    public Interrupts()
    {
        _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    /// <summary>Cancelled by the first signal (or by <see cref="Cancel"/>).</summary>
    public CancellationToken Token => _cancel.Token;

    public bool IsCancellationRequested => _cancel.IsCancellationRequested;

    /// <summary>Cancels <see cref="Token"/> as a signal would, without the note.</summary>
    public void Cancel() => _cancel.Cancel();

    /// <summary>The file a second signal deletes: handed over as soon as it exists, before its fill.</summary>
    public void Own(ScratchFile file) => Volatile.Write(ref _scratch, file);

    /// <summary>
    /// Says that no request is in flight any more: what is left (printing, deleting the scratch file) takes moments,
    /// so the next signal is absorbed with a note instead of ending the process, and the one after it ends it.
    /// </summary>
    public void Settle() => Volatile.Write(ref _settledAt, Volatile.Read(ref _signals));

    public void Dispose()
    {
        _sigint.Dispose();
        _sigterm.Dispose();
        _cancel.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        int signal = Interlocked.Increment(ref _signals);
        int settledAt = Volatile.Read(ref _settledAt);
        if (settledAt >= 0 && signal == settledAt + 1)
        {
            context.Cancel = true;
            Console.Error.WriteLine("aio: finishing (interrupt again to exit at once)");
            _cancel.Cancel();
            return;
        }

        if (signal == 1 && settledAt < 0)
        {
            context.Cancel = true;
            Console.Error.WriteLine("aio: stopping (interrupt again to exit without waiting for the requests in flight)");
            _cancel.Cancel();
            return;
        }

        // Not cancelled: the runtime's default action for the signal ends the process.
        Volatile.Read(ref _scratch)?.Dispose();
        Console.Error.WriteLine("aio: interrupted again: exiting");
    }
}
