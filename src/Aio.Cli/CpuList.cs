using System.Globalization;

namespace Aio.Cli;

/// <summary>
/// A set of CPUs written as fio and taskset write them: numbers and ranges separated by commas (<c>1</c>, <c>0-3</c>,
/// <c>0,2-3</c>). The text is kept to hand it on unchanged to fio's <c>--cpus_allowed</c> and to <c>taskset -c</c>.
/// </summary>
internal sealed class CpuList
{
    /// <summary>CPUs above this cannot be named: the affinity mask is 1024 bits, glibc's cpu_set_t.</summary>
    public const int MaxCpu = 1023;

    private CpuList(string text, int[] cpus)
    {
        Text = text;
        Cpus = cpus;
    }

    /// <summary>The list as given.</summary>
    public string Text { get; }

    /// <summary>The CPUs, ascending, each once.</summary>
    public IReadOnlyList<int> Cpus { get; }

    /// <summary>Parses <paramref name="text"/>; a malformed list is a usage error naming <paramref name="option"/>.</summary>
    public static CpuList Parse(string text, string option)
    {
        var cpus = new SortedSet<int>();
        foreach (var part in text.Split(','))
        {
            var bounds = part.Split('-');
            if (bounds.Length > 2 || !TryCpu(bounds[0], out int first) || !TryCpu(bounds[^1], out int last) || last < first)
            {
                throw new UsageException($"{option}: '{text}' is not a CPU list (numbers 0-{MaxCpu} and ranges, such as 1 or 0,2-3)");
            }

            for (int cpu = first; cpu <= last; cpu++)
            {
                cpus.Add(cpu);
            }
        }

        return new CpuList(text, [.. cpus]);
    }

    /// <summary>The affinity mask sched_setaffinity takes: bit N of byte N / 8 for CPU N.</summary>
    public byte[] ToMask()
    {
        var mask = new byte[(MaxCpu + 1) / 8];
        foreach (int cpu in Cpus)
        {
            mask[cpu / 8] |= (byte)(1 << (cpu % 8));
        }

        return mask;
    }

    private static bool TryCpu(string s, out int cpu)
        => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out cpu) && cpu <= MaxCpu;
}
