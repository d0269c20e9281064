using System.Text.RegularExpressions;
using Xunit;

namespace Aio.Tests.Samples;

/// <summary>
/// The README's code excerpts say which sample file they come from, and each is a copy of that file's lines in order
/// (with "// ..." for what is left out), so an excerpt cannot drift away from the code that SamplesTests runs.
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
        Assert.True(
            excerpts.Count == CodeBlock().Matches(readme).Count,
            "every csharp block of the README must say which sample file it comes from (\"From [`samples/...`](...):\")");
        foreach (Match excerpt in excerpts)
        {
            string file = excerpt.Groups[1].Value;
            string path = Path.Combine(root, file);
            Assert.True(File.Exists(path), $"README quotes {file}, which does not exist");
            var source = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
            int at = 0;

            // "// ..." marks code left out of the excerpt: between such marks, the lines are the file's, in order and
            // next to each other (blank lines aside).
            foreach (var run in Runs(excerpt.Groups[2].Value))
            {
                int found = Find(source, run, at);
                Assert.True(found >= 0, $"README excerpt from {file} is not a copy of it from this line on: {run[0]}");
                at = found + run.Count;
            }
        }
    }

    [GeneratedRegex(@"^```csharp$", RegexOptions.Multiline)]
    private static partial Regex CodeBlock();

    private static IEnumerable<List<string>> Runs(string excerpt)
    {
        var run = new List<string>();
        foreach (string line in excerpt.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0))
        {
            if (line.StartsWith("// ...", StringComparison.Ordinal))
            {
                if (run.Count > 0)
                {
                    yield return run;
                }

                run = [];
                continue;
            }

            run.Add(line);
        }

        if (run.Count > 0)
        {
            yield return run;
        }
    }

    private static int Find(string[] source, List<string> run, int from)
    {
        for (int i = from; i + run.Count <= source.Length; i++)
        {
            if (run.Select((line, k) => source[i + k] == line).All(same => same))
            {
                return i;
            }
        }

        return -1;
    }
}
