using System.Globalization;

namespace Aio.Cli;

/// <summary>fio-style sizes ("4k", "1g", "512") and durations ("10s", "500ms", "2m").</summary>
internal static class Units
{
    /// <param name="text">The option's value.</param>
    /// <param name="option">The option's name, for the message.</param>
    /// <param name="allowZero">Whether 0 (with or without a unit: 0, 0k) is a valid value, as for an offset.</param>
    public static long ParseSize(string text, string option, bool allowZero = false)
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

        if (!long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long value) || (value == 0 && !allowZero) || value > long.MaxValue / multiplier)
        {
            throw new UsageException($"{option}: '{text}' is not a size (examples: 4k, 128m, 1g)");
        }

        return value * multiplier;
    }

    /// <summary>A size that must fit in an <see cref="int"/> (a buffer or a message): larger ones are refused, not wrapped.</summary>
    public static int ParseIntSize(string text, string option)
    {
        long value = ParseSize(text, option);
        if (value > int.MaxValue)
        {
            throw new UsageException($"{option}: '{text}' is larger than {FormatSize(int.MaxValue)} bytes");
        }

        return (int)value;
    }

    /// <param name="text">The option's value.</param>
    /// <param name="option">The option's name, for the message.</param>
    /// <param name="allowZero">Whether 0 (0, 0s, 0ms) is a valid value, as for a ramp time.</param>
    public static TimeSpan ParseDuration(string text, string option, bool allowZero = false)
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

        // NaN fails every comparison, so it is refused by name; so are values TimeSpan cannot hold or rounds to zero.
        if (allowZero && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double zero) && zero == 0)
        {
            return TimeSpan.Zero;
        }

        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || double.IsNaN(value)
            || value <= 0 || value * scale >= TimeSpan.MaxValue.TotalSeconds || TimeSpan.FromSeconds(value * scale) <= TimeSpan.Zero)
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
