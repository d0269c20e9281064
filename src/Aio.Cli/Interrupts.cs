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

    // The runtime runs each signal's handler on a thread of its own, so two signals, or a signal and Settle, can race:
    // the counts and the phase change under one lock.
    private readonly Lock _lock = new();
    private ScratchFile? _scratch;
    private int _signalsWhileRunning;
    private int _signalsWhileFinishing;
    private bool _settled;
    private bool _disposed;

    public Interrupts()
    {
        _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    /// <summary>Cancelled by the first signal while the requests run (or by <see cref="Cancel"/>).</summary>
    public CancellationToken Token => _cancel.Token;

    /// <summary>Whether <see cref="Token"/> was cancelled; no signal after <see cref="Settle"/> changes it.</summary>
    public bool IsCancellationRequested => _cancel.IsCancellationRequested;

    /// <summary>Cancels <see cref="Token"/> as a signal would, without the note.</summary>
    public void Cancel()
    {
        lock (_lock)
        {
            if (!_disposed)
            {
                _cancel.Cancel();
            }
        }
    }

    /// <summary>The file a second signal deletes: handed over as soon as it exists, before its fill.</summary>
    public void Own(ScratchFile file)
    {
        lock (_lock)
        {
            _scratch = file;
        }
    }

    /// <summary>
    /// Says that no request is in flight any more: what is left (printing, deleting the scratch file) takes moments,
    /// so the next signal is absorbed with a note instead of ending the process, and the one after it ends it.
    /// </summary>
    public void Settle()
    {
        lock (_lock)
        {
            _settled = true;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            // A handler already on its way finds this and leaves the token alone.
            _disposed = true;
        }

        _sigint.Dispose();
        _sigterm.Dispose();
        _cancel.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                // The command has returned: the signal's default action ends what is left of the process.
                return;
            }

            if (_settled ? _signalsWhileFinishing++ == 0 : _signalsWhileRunning++ == 0)
            {
                context.Cancel = true;
                if (_settled)
                {
                    // Nothing left to cancel: the token stays as the run left it, so the results say whether the run
                    // was interrupted, not whether a key was pressed while they printed.
                    Console.Error.WriteLine("aio: finishing (interrupt again to exit at once)");
                }
                else
                {
                    Console.Error.WriteLine("aio: stopping (interrupt again to exit without waiting for the requests in flight)");
                    _cancel.Cancel();
                }

                return;
            }

            // Not cancelled: the runtime's default action for the signal ends the process. The file is deleted here
            // even if the main thread's own delete already began (and may be what is stuck).
            _scratch?.DeleteNow();
            Console.Error.WriteLine("aio: interrupted again: exiting");
        }
    }
}
