namespace Aio.Cli;

/// <summary>The figures of one benchmark run.</summary>
internal sealed record BenchResult(
    string Engine,
    long Ios,
    double Seconds,
    double P50Us,
    double P99Us,
    double P999Us,
    double CpuUserS,
    double CpuSysS,
    double AllocsPerIo,
    int BlockSize)
{
    public double Iops => Ios / Seconds;

    public double MBps => Ios * (double)BlockSize / Seconds / 1e6;
}
