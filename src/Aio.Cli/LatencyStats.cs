namespace Aio.Cli;

/// <summary>Latency of one run in microseconds: min, mean, max, standard deviation, and the values at <see cref="Percentiles"/>.</summary>
internal sealed record LatencyStats(double Min, double Mean, double Max, double Stdev, double[] Values)
{
    /// <summary>The percentiles reported, as fio reports them.</summary>
    public static readonly double[] Percentiles = [1, 5, 10, 50, 90, 95, 99, 99.9, 99.99];

    /// <summary>The value at <paramref name="percentile"/>, which must be one of <see cref="Percentiles"/>.</summary>
    public double At(double percentile) => Values[Array.IndexOf(Percentiles, percentile)];
}
