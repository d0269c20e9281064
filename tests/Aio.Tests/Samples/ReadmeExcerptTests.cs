using System.Text.RegularExpressions;
using Xunit;

namespace Aio.Tests.Samples;

/// <summary>
/// The README's code excerpts say which sample file they come from; every line of such an excerpt must still be in
/// that file, so an excerpt cannot drift away from the code that SamplesTests runs.
/// </summary>
public sealed partial class ReadmeExcerptTests
{
    // "From [`samples/Aio.Samples/X.cs`](...):" (or "..., from [`...`](...):"), a blank line, then a csharp block.
    [GeneratedRegex(@"\[`(samples/Aio\.Samples/[A-Za-z]+\.cs)`\]\([^)]*\):\n\n```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex Excerpt();

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Aio.slnx")))
        {
            dir = dir.Parent;
        }

        Assert.True(dir is not null, $"no Aio.slnx above {AppContext.BaseDirectory}");
        return dir!.FullName;
    }

    [Fact]
    public void Every_README_excerpt_that_names_a_sample_file_is_copied_from_it()
    {
        string root = RepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var excerpts = Excerpt().Matches(readme);
        Assert.True(excerpts.Count >= 10, $"expected the README to quote the samples at least 10 times, found {excerpts.Count}");
        foreach (Match excerpt in excerpts)
        {
            string file = excerpt.Groups[1].Value;
            string path = Path.Combine(root, file);
            Assert.True(File.Exists(path), $"README quotes {file}, which does not exist");
            var lines = new HashSet<string>(File.ReadAllLines(path).Select(l => l.Trim()));
            foreach (string line in excerpt.Groups[2].Value.Split('\n').Select(l => l.Trim()))
            {
                // "// ..." marks code left out of the excerpt.
                if (line.Length == 0 || line.StartsWith("// ...", StringComparison.Ordinal))
                {
                    continue;
                }

                Assert.True(lines.Contains(line), $"README excerpt from {file} has a line that is not in the file: {line}");
            }
        }
    }
}
