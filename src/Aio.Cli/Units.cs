using System.Globalization;

namespace Aio.Cli;

/// <summary>fio-style sizes ("4k", "1g", "512") and durations ("10s", "500ms", "2m").</summary>
internal static class Units
{
    public static long ParseSize(string text, string option)
    {
        string s = text.Trim().ToLowerInvariant();
        long multiplier = 1;
        if (s.EndsWith("ib", StringComparison.Ordinal))
        {
            s = s[..^2];
        }
        else if (s.EndsWith('b'))
        {
            s = s[..^1];
        }

        if (s.Length > 0 && "kmgt".Contains(s[^1], StringComparison.Ordinal))
        {
            multiplier = s[^1] switch { 'k' => 1L << 10, 'm' => 1L << 20, 'g' => 1L << 30, _ => 1L << 40 };
            s = s[..^1];
        }

        if (!long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long value) || value <= 0 || value > long.MaxValue / multiplier)
        {
            throw new UsageException($"{option}: '{text}' is not a size (examples: 4k, 128m, 1g)");
        }

        return value * multiplier;
    }

    public static TimeSpan ParseDuration(string text, string option)
    {
        string s = text.Trim().ToLowerInvariant();
        double scale = 1;
        if (s.EndsWith("ms", StringComparison.Ordinal))
        {
            scale = 0.001;
            s = s[..^2];
        }
        else if (s.EndsWith('s'))
        {
            s = s[..^1];
        }
        else if (s.EndsWith('m'))
        {
            scale = 60;
            s = s[..^1];
        }

        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value <= 0 || double.IsInfinity(value))
        {
            throw new UsageException($"{option}: '{text}' is not a duration (examples: 10s, 500ms, 2m)");
        }

        return TimeSpan.FromSeconds(value * scale);
    }

    public static string FormatSize(long bytes) => bytes switch
    {
        >= 1L << 30 when bytes % (1L << 30) == 0 => $"{bytes >> 30}g",
        >= 1L << 20 when bytes % (1L << 20) == 0 => $"{bytes >> 20}m",
        >= 1L << 10 when bytes % (1L << 10) == 0 => $"{bytes >> 10}k",
        _ => bytes.ToString(CultureInfo.InvariantCulture),
    };
}
