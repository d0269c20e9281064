using System.Text.Json;
using Aio.Cli;
using Xunit;

namespace Aio.Tests.Cli;

/// <summary>
/// The CPU of fio's row: fio's usr_cpu and sys_cpu are percentages of the jobs' summed run time (job_runtime, ms), the
/// format fio 3.x writes with group_reporting.
/// </summary>
public class FioRunnerCpuTests
{
    [Fact]
    public void Several_jobs_CPU_is_the_percentage_of_their_summed_run_time()
    {
        // Four jobs of 10 s each, 25 % user and 50 % system of that: 10 s and 20 s of CPU in all.
        using var doc = JsonDocument.Parse("""{ "job_runtime": 40000, "usr_cpu": 25.0, "sys_cpu": 50.0 }""");
        var (user, system) = FioRunner.CpuSeconds(doc.RootElement, runtime: 10.0);
        Assert.Equal(10.0, user, precision: 9);
        Assert.Equal(20.0, system, precision: 9);
    }

    [Fact]
    public void Without_job_runtime_the_CPU_is_of_one_jobs_run_time()
    {
        using var doc = JsonDocument.Parse("""{ "usr_cpu": 10.0, "sys_cpu": 30.0 }""");
        var (user, system) = FioRunner.CpuSeconds(doc.RootElement, runtime: 5.0);
        Assert.Equal(0.5, user, precision: 9);
        Assert.Equal(1.5, system, precision: 9);
    }
}
