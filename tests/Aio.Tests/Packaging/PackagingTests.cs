using System.IO.Compression;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;
using Xunit;

namespace Aio.Tests.Packaging;

/// <summary>
/// Issue 15: the packages work for somebody who only has them. A fresh console app restores Aio and Aio.Nbd from the
/// packed folder (not a ProjectReference), builds and runs; the aio tool installs from it and runs a benchmark; and every package
/// carries its license, README, description, tags, public-only XML docs, symbols and the Linux platform attribute.
/// </summary>
/// <remarks>
/// Not in parallel with other tests: its builds take both cores of a small CI machine for a while, which would skew
/// the timing-sensitive tests around it.
/// </remarks>
[Collection(PackagingCollection.Name)]
public class PackagingTests : IClassFixture<PackagesFixture>
{
    private static readonly TimeSpan s_buildTimeout = TimeSpan.FromSeconds(120);
    private readonly PackagesFixture _packages;

    public PackagingTests(PackagesFixture packages) => _packages = packages;

    [Fact]
    public void A_console_app_built_against_the_packages_runs_and_is_warned_about_unguarded_calls_off_Linux()
    {
        string app = Path.Combine(_packages.Root, "consumer");
        Directory.CreateDirectory(app);
        string feed = _packages.Feed;
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="packed" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="packed"><package pattern="Aio" /><package pattern="Aio.*" /></packageSource>
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Aio" Version="[{_packages.Version}]" />
                <PackageReference Include="Aio.Nbd" Version="[{_packages.Version}]" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using System.Net;
            using System.Runtime.Versioning;
            using Aio;
            using Aio.Nbd;

            if (!OperatingSystem.IsLinux())
            {
                return 3;
            }

            return await Demo.RunAsync();

            [SupportedOSPlatform("linux")]
            static class Demo
            {
                public static async Task<int> RunAsync()
                {
                    string path = Path.Combine(Path.GetTempPath(), "aio-consumer-" + Guid.NewGuid().ToString("N"));
                    await File.WriteAllBytesAsync(path, "hello from a package"u8.ToArray());
                    try
                    {
                        using var io = IoThread.Start("consumer");
                        await using (var file = BlockFile.Open(io.Context, path))
                        {
                            var buffer = new byte[20];
                            int read = await file.ReadAsync(buffer, 0);
                            Console.WriteLine($"read {read}: {System.Text.Encoding.ASCII.GetString(buffer)}");
                        }

                        var ran = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
                        io.Context.ScheduleOneShot(() => ran.SetResult(Thread.CurrentThread.Name ?? "?"));
                        Console.WriteLine("bottom half ran on " + await ran.Task.WaitAsync(TimeSpan.FromSeconds(20)));

                        await using var server = NbdServer.Start(new NbdServerOptions
                        {
                            Exports = [new NbdExportOptions { Path = path, Direct = false, ReadOnly = true }],
                            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
                            Threads = 1,
                        });
                        Console.WriteLine("nbd listening: " + (((IPEndPoint)server.EndPoints[0]).Port > 0));
                        return 0;
                    }
                    finally
                    {
                        File.Delete(path);
                    }
                }
            }
            """);

        // A call that no guard covers: the platform analyzer must flag it, because the package says "linux only".
        File.WriteAllText(Path.Combine(app, "Unguarded.cs"), """
            static class Unguarded
            {
                public static void Touch() => Aio.AioContext.Create().Dispose();
            }
            """);

        var (buildCode, buildOutput) = DotnetCli.Run(
            DotnetCli.Host, app, _packages.Environment, s_buildTimeout, "build", "-c", "Release", "-nodeReuse:false", "-p:UseSharedCompilation=false");
        Assert.True(buildCode == 0, "the console app did not build against the packages:\n" + buildOutput);
        Assert.Contains("CA1416", buildOutput);
        Assert.Contains("Unguarded.cs", buildOutput);
        Assert.DoesNotContain("Program.cs(", buildOutput);

        // The restore took the packed version from the packed folder into the isolated packages folder.
        string restored = Path.Combine(_packages.Environment["NUGET_PACKAGES"], "aio", _packages.Version.ToLowerInvariant());
        Assert.True(Directory.Exists(restored), $"Aio {_packages.Version} was not restored into {restored}:\n{buildOutput}");

        string dll = Path.Combine(app, "bin", "Release", "net10.0", "Consumer.dll");
        var (runCode, runOutput) = DotnetCli.Run(DotnetCli.Host, app, _packages.Environment, TimeSpan.FromSeconds(60), dll);
        Assert.True(runCode == 0, $"the console app exited with {runCode}:\n{runOutput}");
        Assert.Contains("read 20: hello from a package", runOutput);
        Assert.Contains("bottom half ran on consumer", runOutput);
        Assert.Contains("nbd listening: True", runOutput);
    }

    [Fact]
    public void The_aio_tool_installs_from_the_packed_folder_and_runs()
    {
        string tools = Path.Combine(_packages.Root, "tools");
        string config = Path.Combine(_packages.Root, "tool-nuget.config");

        // No feed but the packed folder (the tool package carries all it needs): no network, nothing cached.
        File.WriteAllText(config, """
            <?xml version="1.0" encoding="utf-8"?>
            <configuration><packageSources><clear /></packageSources></configuration>
            """);
        var (installCode, installOutput) = DotnetCli.Run(
            DotnetCli.Host, _packages.Root, _packages.Environment, TimeSpan.FromSeconds(90),
            "tool", "install", "--tool-path", tools, "--configfile", config, "--add-source", _packages.Feed,
            "--version", _packages.Version, PackagesFixture.ToolPackage);
        Assert.True(installCode == 0, "dotnet tool install failed:\n" + installOutput);

        string aio = Path.Combine(tools, "aio");
        Assert.True(File.Exists(aio), $"the tool did not install a command named aio in {tools}:\n{installOutput}");
        var (helpCode, help) = DotnetCli.Run(aio, _packages.Root, _packages.Environment, TimeSpan.FromSeconds(30), "--help");
        Assert.True(helpCode == 0, $"aio --help exited with {helpCode}:\n{help}");
        Assert.Contains("bench", help);
        Assert.Contains("nbd", help);

        // And it does the work, not only parse: a short benchmark on a scratch file, the libraries inside the tool
        // package running the I/O (whatever engine the host allows), the file deleted afterwards.
        string scratch = Path.Combine(_packages.Root, "tool-bench");
        Directory.CreateDirectory(scratch);
        var (benchCode, bench) = DotnetCli.Run(aio, scratch, _packages.Environment, TimeSpan.FromSeconds(60), "bench", "--size", "1m", "--runtime", "300ms", "--direct", "false", "--json");
        Assert.True(benchCode == 0, $"aio bench exited with {benchCode}:\n{bench}");
        string json = bench[bench.IndexOf('{', StringComparison.Ordinal)..];
        using var doc = System.Text.Json.JsonDocument.Parse(json[..(json.LastIndexOf('}') + 1)]);
        Assert.True(doc.RootElement.GetProperty("ios").GetInt64() > 0, "the tool's bench measured nothing:\n" + bench);
        Assert.Empty(Directory.GetFiles(scratch));
    }

    [Fact]
    public void Every_package_carries_license_readme_description_tags_symbols_and_the_Linux_platform()
    {
        foreach (string id in PackagesFixture.Libraries.Append(PackagesFixture.ToolPackage))
        {
            string nupkg = _packages.Package(id);
            Assert.True(File.Exists(nupkg), $"{id} was not packed into {_packages.Feed}:\n{_packages.PackOutput}");
            Assert.True(File.Exists(Path.ChangeExtension(nupkg, ".snupkg")), $"{id} has no symbol package (.snupkg)");
            using var zip = ZipFile.OpenRead(nupkg);
            var nuspec = XDocument.Load(zip.GetEntry(id + ".nuspec")!.Open());
            XNamespace ns = nuspec.Root!.Name.Namespace;
            var metadata = nuspec.Root.Element(ns + "metadata")!;
            var license = metadata.Element(ns + "license");
            Assert.True(license is not null && (string?)license.Attribute("type") == "expression" && license.Value == "MIT", $"{id}: license is not the MIT expression");
            Assert.Equal("The Aio authors", metadata.Element(ns + "authors")?.Value);
            Assert.False(string.IsNullOrWhiteSpace(metadata.Element(ns + "description")?.Value), $"{id}: no description");
            Assert.Contains("io_uring", metadata.Element(ns + "tags")?.Value ?? string.Empty);
            Assert.Equal("README.md", metadata.Element(ns + "readme")?.Value);
            var readme = zip.GetEntry("README.md");
            Assert.True(readme is not null, $"{id}: README.md is not at the package root");
            using (var reader = new StreamReader(readme.Open()))
            {
                string text = reader.ReadToEnd();
                Assert.Contains("# ", text);
                Assert.DoesNotContain("../shared", text);
            }

            if (id == PackagesFixture.ToolPackage)
            {
                Assert.NotNull(zip.GetEntry("tools/net10.0/any/DotnetToolSettings.xml"));
                continue;
            }

            Assert.True(zip.GetEntry($"lib/net10.0/{id}.xml") is not null, $"{id}: no XML documentation in the package");
            var dll = zip.GetEntry($"lib/net10.0/{id}.dll");
            Assert.True(dll is not null, $"{id}: no lib/net10.0/{id}.dll");
            Assert.True(SupportsOnlyLinux(dll), $"{id}.dll has no [assembly: SupportedOSPlatform(\"linux\")]");
        }
    }

    [Fact]
    public void The_shipped_XML_documentation_holds_every_public_type_and_no_internal_member()
    {
        foreach (string id in PackagesFixture.Libraries)
        {
            var assembly = Assembly.Load(id);
            using var zip = ZipFile.OpenRead(_packages.Package(id));
            var names = XDocument.Load(zip.GetEntry($"lib/net10.0/{id}.xml")!.Open())
                .Descendants("member").Select(m => (string)m.Attribute("name")!).ToHashSet(StringComparer.Ordinal);
            Assert.NotEmpty(names);
            foreach (var type in assembly.GetTypes())
            {
                if (type.IsDefined(typeof(System.Runtime.CompilerServices.CompilerGeneratedAttribute)) || type.Name.Contains('<'))
                {
                    continue;
                }

                string typeId = type.FullName!.Replace('+', '.');
                if (!type.IsVisible)
                {
                    // Neither the type nor anything in it.
                    Assert.DoesNotContain(names, n => n == "T:" + typeId || n[2..].StartsWith(typeId + ".", StringComparison.Ordinal));
                    continue;
                }

                // Warnings are errors and every public type is documented: filtering must not have lost one.
                Assert.Contains("T:" + typeId, names);
                const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
                var members = type.GetMembers(All);
                var visibleNames = members.Where(IsVisible).Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
                foreach (var member in members.Where(m => !IsVisible(m) && !visibleNames.Contains(m.Name)))
                {
                    string name = member.Name.Replace('.', '#');
                    Assert.DoesNotContain(names, n => n[2..] == typeId + "." + name || n[2..].StartsWith(typeId + "." + name + "(", StringComparison.Ordinal));
                }
            }
        }
    }

    private static bool IsVisible(MemberInfo member) => member switch
    {
        MethodBase m => m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly,
        FieldInfo f => f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly,
        PropertyInfo p => p.GetAccessors(nonPublic: true).Any(IsVisible),
        EventInfo e => e.AddMethod is { } add && IsVisible(add),
        Type t => t.IsNestedPublic || t.IsNestedFamily || t.IsNestedFamORAssem,
        _ => true,
    };

    private static bool SupportsOnlyLinux(ZipArchiveEntry dll)
    {
        using var copy = new MemoryStream();
        using (var stream = dll.Open())
        {
            stream.CopyTo(copy);
        }

        copy.Position = 0;
        using var pe = new PEReader(copy);
        var reader = pe.GetMetadataReader();
        foreach (var handle in reader.GetAssemblyDefinition().GetCustomAttributes())
        {
            var attribute = reader.GetCustomAttribute(handle);
            if (attribute.Constructor.Kind != HandleKind.MemberReference)
            {
                continue;
            }

            var ctor = reader.GetMemberReference((MemberReferenceHandle)attribute.Constructor);
            if (ctor.Parent.Kind != HandleKind.TypeReference
                || reader.GetString(reader.GetTypeReference((TypeReferenceHandle)ctor.Parent).Name) != "SupportedOSPlatformAttribute")
            {
                continue;
            }

            // The blob: prolog 01 00, then the platform as a length-prefixed UTF-8 string.
            var blob = reader.GetBlobBytes(attribute.Value);
            if (blob.AsSpan(2).SequenceEqual("\u0005linux\0\0"u8))
            {
                return true;
            }
        }

        return false;
    }
}
