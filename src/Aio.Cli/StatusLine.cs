using System.Diagnostics;
using System.Globalization;

namespace Aio.Cli;

/// <summary>
/// fio's live status line on a terminal: percent done, IOPS and bandwidth over the last interval, time left;
/// rewritten in place on stderr twice a second and erased at the end. Nothing at all when stderr is not a terminal.
/// </summary>
internal sealed class StatusLine : IDisposable
{
    private static readonly TimeSpan s_interval = TimeSpan.FromMilliseconds(500);
    private readonly Lock _lock = new();
    private readonly Func<string> _text;
    private readonly Timer? _timer;
    private int _width;
    private bool _disposed;

    private StatusLine(Func<string> text)
    {
        _text = text;
        _timer = new Timer(_ => Draw(), null, s_interval, s_interval);
    }

    /// <summary>Whether status lines are drawn: only when stderr is a terminal.</summary>
    public static bool Enabled => !Console.IsErrorRedirected;

    /// <summary>The status of a benchmark run: <paramref name="progress"/> counts requests (null: an external tool, percent and ETA only) of <paramref name="blockSize"/> bytes over <paramref name="total"/>, which begins with <paramref name="ramp"/>.</summary>
    public static StatusLine? ForRun(string engine, Progress? progress, int blockSize, TimeSpan ramp, TimeSpan total)
    {
        if (!Enabled)
        {
            return null;
        }

        long start = Stopwatch.GetTimestamp();
        long lastCount = 0;
        long lastTime = start;
        return new StatusLine(() =>
        {
            long now = Stopwatch.GetTimestamp();
            var elapsed = Stopwatch.GetElapsedTime(start, now);
            double percent = Math.Min(100, 100 * elapsed / total);
            var eta = total - elapsed;
            if (progress is null)
            {
                // An external tool: it reports its figures at the end only.
                return string.Create(CultureInfo.InvariantCulture, $"{engine}: [{percent,3:0}%] ETA {FormatEta(eta)}");
            }

            if (elapsed < ramp)
            {
                // Requests during the ramp are not counted.
                return string.Create(CultureInfo.InvariantCulture, $"{engine}: [{percent,3:0}%] ramping up, ETA {FormatEta(eta)}");
            }

            long count = progress.Total;
            double dt = Stopwatch.GetElapsedTime(lastTime, now).TotalSeconds;
            double iops = dt > 0 ? (count - lastCount) / dt : 0;
            lastCount = count;
            lastTime = now;
            return string.Create(
                CultureInfo.InvariantCulture,
                $"{engine}: [{percent,3:0}%] {iops,9:0} IOPS, {iops * blockSize / 1e6,8:0.0} MB/s, ETA {FormatEta(eta)}");
        });
    }

    /// <summary>The progress of a file being filled: <paramref name="done"/> of <paramref name="size"/> bytes.</summary>
    public static StatusLine? ForFill(string path, Func<long> done, long size)
    {
        if (!Enabled)
        {
            return null;
        }

        return new StatusLine(() => string.Create(
            CultureInfo.InvariantCulture,
            $"creating {Path.GetFileName(path)}: [{100.0 * done() / size,3:0}%] {Units.FormatSize(done() & ~((1L << 20) - 1))} of {Units.FormatSize(size)}"));
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _timer?.Dispose();
            if (_width > 0)
            {
                Console.Error.Write("\r" + new string(' ', _width) + "\r");
            }
        }
    }

    private static string FormatEta(TimeSpan eta)
        => eta <= TimeSpan.Zero ? "0s" : eta.TotalHours >= 1 ? eta.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : eta.ToString(@"m\:ss", CultureInfo.InvariantCulture);

    private void Draw()
    {
        lock (_lock)
        {
            // The timer may fire once more while Dispose runs: the lock and the flag keep it from redrawing after the erase.
            if (_disposed)
            {
                return;
            }

            string text = _text();
            Console.Error.Write("\r" + text.PadRight(_width));
            _width = Math.Max(_width, text.Length);
        }
    }
}
