using System.Runtime.InteropServices;

namespace Aio.Cli;

/// <summary>
/// SIGINT (Ctrl-C) and SIGTERM for a command that fills a scratch file and runs I/O: the first cancels
/// <see cref="Token"/> (the command stops, prints what it measured and deletes its file on the way out); the second
/// deletes the scratch file and lets the signal's default action end the process at once, for a run stuck in a
/// request on a device that does not answer (such a request checks no token).
/// </summary>
internal sealed class Interrupts : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration _sigint;
    private readonly PosixSignalRegistration _sigterm;
    private ScratchFile? _scratch;
    private int _signals;

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

    public void Dispose()
    {
        _sigint.Dispose();
        _sigterm.Dispose();
        _cancel.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        if (Interlocked.Increment(ref _signals) == 1)
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
