using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;
using Aio.Build.DocFilter;

// Usage: Aio.Build.DocFilter <assembly.dll> <documentation.xml>      (or --list-visible <assembly.dll>, to check the IDs)
// Rewrites the XML file in place, keeping only the <member> entries whose documentation comment ID names a type or
// member that code outside the assembly can see (public, protected or protected internal, in visible types).
if (args is ["--list-visible", var listed])
{
    using var listedStream = File.OpenRead(listed);
    using var listedPe = new PEReader(listedStream);
    foreach (string id in VisibleMembers.Collect(listedPe.GetMetadataReader()).Order(StringComparer.Ordinal))
    {
        Console.WriteLine(id);
    }

    return 0;
}

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Aio.Build.DocFilter <assembly.dll> <documentation.xml>");
    return 2;
}

string assemblyPath = args[0];
string xmlPath = args[1];
HashSet<string> visible;
using (var stream = File.OpenRead(assemblyPath))
using (var pe = new PEReader(stream))
{
    visible = VisibleMembers.Collect(pe.GetMetadataReader());
}

var document = XDocument.Load(xmlPath, LoadOptions.PreserveWhitespace);
var members = document.Root?.Element("members");
if (members is null)
{
    Console.Error.WriteLine($"{xmlPath}: no <members> element; not a documentation file.");
    return 1;
}

int kept = 0;
int removed = 0;
foreach (var member in members.Elements("member").ToList())
{
    string name = (string?)member.Attribute("name") ?? string.Empty;
    if (visible.Contains(name))
    {
        kept++;
        continue;
    }

    // Take the indentation in front of the element with it, so the file keeps one member per line.
    if (member.PreviousNode is XText { Value: var text } whitespace && string.IsNullOrWhiteSpace(text))
    {
        whitespace.Remove();
    }

    member.Remove();
    removed++;
}

string temporary = xmlPath + ".tmp";
document.Save(temporary, SaveOptions.DisableFormatting);
File.Move(temporary, xmlPath, overwrite: true);
Console.WriteLine($"{Path.GetFileName(xmlPath)}: kept {kept} publicly visible members, removed {removed}.");
return 0;
