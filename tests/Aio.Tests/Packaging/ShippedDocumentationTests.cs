using System.Xml.Linq;
using Xunit;

namespace Aio.Tests.Packaging;

/// <summary>
/// The XML documentation that ships with each library reads as one text per member: a partial type's other files do
/// not add summaries of their own (the compiler glues every partial's comment together), and no reference points at
/// something the reader cannot see (an internal member is filtered out of the file, so its cref dangles).
/// </summary>
public class ShippedDocumentationTests
{
    public static TheoryData<string> Libraries() => new(PackagesFixture.Libraries);

    [Theory]
    [MemberData(nameof(Libraries))]
    public void Every_documented_member_has_one_summary_and_at_most_one_remarks(string id)
    {
        var wrong = new List<string>();
        foreach (var member in Load(id).Descendants("member"))
        {
            string name = (string)member.Attribute("name")!;
            int summaries = member.Elements("summary").Count();
            int remarks = member.Elements("remarks").Count();
            if (summaries != 1 && member.Elements("inheritdoc").Count() == 0 || remarks > 1)
            {
                wrong.Add($"{name}: {summaries} summaries, {remarks} remarks");
            }
        }

        Assert.True(wrong.Count == 0, $"{id}: " + string.Join("; ", wrong));
    }

    [Theory]
    [MemberData(nameof(Libraries))]
    public void Every_reference_to_the_product_points_at_a_documented_member(string id)
    {
        var shipped = PackagesFixture.Libraries.SelectMany(l => Load(l).Descendants("member"))
            .Select(m => (string)m.Attribute("name")!).ToHashSet(StringComparer.Ordinal);
        var dangling = new List<string>();
        foreach (var member in Load(id).Descendants("member"))
        {
            foreach (var cref in member.Descendants().Attributes("cref").Select(a => a.Value))
            {
                if (cref.Length > 2 && cref[1] == ':' && cref[2..].StartsWith("Aio.", StringComparison.Ordinal) && !shipped.Contains(cref))
                {
                    dangling.Add($"{(string)member.Attribute("name")!} -> {cref}");
                }
            }
        }

        Assert.True(dangling.Count == 0, $"{id}: references to what the documentation does not hold: " + string.Join("; ", dangling));
    }

    private static XDocument Load(string id)
    {
        // The build copies each referenced library's filtered XML file beside it: the same file the package ships.
        string path = Path.Combine(AppContext.BaseDirectory, id + ".xml");
        Assert.True(File.Exists(path), $"no {path}");
        return XDocument.Load(path);
    }
}
