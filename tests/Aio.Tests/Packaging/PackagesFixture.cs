using System.Reflection;
using Xunit;

namespace Aio.Tests.Packaging;

/// <summary>
/// Packs the repository's shipped projects once for the packaging tests, from the outputs this test run was built
/// from (no rebuild), under a version of its own so that no package cached anywhere can stand in for them.
/// </summary>
public sealed class PackagesFixture : IDisposable
{
    public static readonly string[] Libraries = ["Aio", "Aio.GLib", "Aio.Nbd", "Aio.AspNetCore", "Aio.Hosting"];
    public const string ToolPackage = "Aio.Cli";

    public PackagesFixture()
    {
        RepoRoot = FindRepoRoot();
        DeleteStaleRoots();
        Root = Path.Combine(Path.GetTempPath(), RootPrefix + Guid.NewGuid().ToString("N"));
        Feed = Path.Combine(Root, "feed");
        Directory.CreateDirectory(Feed);
        Version = "0.1.0-packtest." + DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
        Environment = new Dictionary<string, string>
        {
            // An empty packages folder of its own: restore can only take the packages this fixture made.
            ["NUGET_PACKAGES"] = Path.Combine(Root, "nuget-packages"),
        };

        string configuration = typeof(PackagesFixture).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        var (exitCode, output) = DotnetCli.Run(
            DotnetCli.Host, RepoRoot, Environment, TimeSpan.FromSeconds(120),
            "pack", Path.Combine(RepoRoot, "Aio.slnx"), "-c", configuration, "--no-build", "-nodeReuse:false",
            "-p:PackageOutputPath=" + Feed + "/", "-p:PackageVersion=" + Version);
        PackOutput = output;
        if (exitCode != 0)
        {
            Dispose();
            throw new InvalidOperationException($"dotnet pack failed ({exitCode}):\n{output}");
        }
    }

    public string RepoRoot { get; }

    /// <summary>A temporary folder for everything the tests create.</summary>
    public string Root { get; }

    /// <summary>The folder the packages were packed into.</summary>
    public string Feed { get; }

    public string Version { get; }

    public string PackOutput { get; }

    /// <summary>Environment for every dotnet command of these tests.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    public string Package(string id) => Path.Combine(Feed, $"{id}.{Version}.nupkg");

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left for the next run's DeleteStaleRoots.
        }
    }

    private const string RootPrefix = "aio-packaging-";

    /// <summary>
    /// Removes what earlier runs left behind (a run killed before its fixture was disposed, a delete that failed): each
    /// holds a full set of packages. Only folders an hour old, so that a run in progress beside this one keeps its own.
    /// </summary>
    private static void DeleteStaleRoots()
    {
        foreach (var dir in new DirectoryInfo(Path.GetTempPath()).EnumerateDirectories(RootPrefix + "*"))
        {
            try
            {
                if (dir.CreationTimeUtc < DateTime.UtcNow.AddHours(-1))
                {
                    dir.Delete(recursive: true);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Aio.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Aio.slnx above {AppContext.BaseDirectory}: the packaging tests run from the repository's build output.");
    }
}
