using System.Text.RegularExpressions;
using System.Xml.Linq;
using Compression.Cli.Tests.Support;
using Compression.Testing;

namespace Compression.Cli.Tests;

/// <summary>
/// README.md is the reference: every command-line option, diagnostic code, project property and <c>OnnxModel</c> metadata the
/// package declares is documented there, and the Diagnostics table lists no code that nothing raises. The settings table is
/// generated from the declarations and checked by the SettingsDocumentation tests; these cover the rest, read from the
/// sources themselves so that a new declaration without a line in the README fails here.
/// </summary>
public sealed partial class ReferenceDocumentationTests
{
    private static readonly string Readme = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "README.md"));

    private static string BuildFolder => Path.Combine(RepositoryPaths.Root, "src", "Compression.Build", "build");

    [Fact]
    public void Every_command_line_option_is_in_the_README()
    {
        CommandResult help = CommandResult.InProcess("--help");
        string[] options = OptionPattern().Matches(help.Stdout).Select(m => m.Groups["name"].Value).Distinct().ToArray();

        Assert.Contains("--output", options);
        Assert.All(options.Where(o => o is not "--help" and not "--version"), option =>
            Assert.True(Readme.Contains(option, StringComparison.Ordinal), $"README.md does not document the option {option}."));
    }

    [Fact]
    public void Every_diagnostic_code_raised_is_in_the_Diagnostics_table_and_every_code_there_is_raised()
    {
        string sources = string.Join('\n', Directory.EnumerateFiles(Path.Combine(RepositoryPaths.Root, "src"), "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".targets", StringComparison.Ordinal) || f.EndsWith(".props", StringComparison.Ordinal))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal) && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(File.ReadAllText));
        var raised = CodePattern().Matches(sources).Select(m => m.Value).ToHashSet(StringComparer.Ordinal);
        HashSet<string> documented = DocumentedCodes();

        Assert.NotEmpty(raised);
        Assert.All(raised, code => Assert.True(documented.Contains(code), $"{code} is raised in src/ but not in README.md's Diagnostics table."));
        Assert.All(documented, code => Assert.True(raised.Contains(code), $"README.md's Diagnostics table lists {code}, which nothing in src/ raises."));
    }

    [Fact]
    public void Every_project_property_and_item_metadata_of_the_package_is_in_the_README()
    {
        string msbuild = string.Join('\n', Directory.EnumerateFiles(BuildFolder, "*.props").Concat(Directory.EnumerateFiles(BuildFolder, "*.targets")).Select(File.ReadAllText));

        // Properties a project sets: every $(Onnx...) the package reads (names with a leading underscore are its own).
        string[] properties = PropertyPattern().Matches(msbuild).Select(m => m.Groups["name"].Value).Distinct().ToArray();
        Assert.Contains("OnnxRuntimeLibraryPath", properties);
        Assert.All(properties, property => Assert.True(Documents(property), $"README.md does not document the project property {property}."));

        // Metadata of OnnxModel items: the defaults the package declares, and the public items it makes for hooks.
        XNamespace none = XNamespace.None;
        string[] metadata = Directory.EnumerateFiles(BuildFolder, "*.props")
            .SelectMany(f => XDocument.Load(f).Descendants(none + "ItemDefinitionGroup").Elements(none + "OnnxModel").Elements())
            .Select(e => e.Name.LocalName).Distinct().ToArray();
        Assert.Contains("ClassName", metadata);
        Assert.All(metadata, name => Assert.True(Documents(name), $"README.md does not document the OnnxModel metadata {name}."));

        string[] publicItems = Directory.EnumerateFiles(BuildFolder, "*.targets")
            .SelectMany(f => XDocument.Load(f).Descendants(none + "ItemGroup").Elements())
            .Select(e => e.Name.LocalName).Where(n => n.StartsWith("Onnx", StringComparison.Ordinal)).Distinct().ToArray();
        Assert.All(publicItems, item => Assert.True(Documents(item), $"README.md does not document the item {item}."));

        string[] hooks = Directory.EnumerateFiles(BuildFolder, "*.targets")
            .SelectMany(f => XDocument.Load(f).Descendants(none + "Target"))
            .Select(t => (string)t.Attribute("Name")!).Where(n => !n.StartsWith('_')).ToArray();
        Assert.Contains("OnnxBeforeCompress", hooks);
        Assert.All(hooks, target => Assert.True(Documents(target), $"README.md does not document the target {target}."));
    }

    /// <summary>True when the README names <paramref name="name"/> as a whole word (in code, a table or a sentence).</summary>
    private static bool Documents(string name) => Regex.IsMatch(Readme, $@"(?<![\w$(%.]){Regex.Escape(name)}(?!\w)");

    /// <summary>The codes in the first column of README's Diagnostics table; a range (<c>OCB1001–OCB1007</c>) stands for each code in it.</summary>
    private static HashSet<string> DocumentedCodes()
    {
        int start = Readme.IndexOf("\n## Diagnostics", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no Diagnostics section.");
        int end = Readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var codes = new HashSet<string>(StringComparer.Ordinal);
        foreach (string line in Readme[start..(end < 0 ? Readme.Length : end)].Split('\n').Where(l => l.StartsWith("| OCB", StringComparison.Ordinal)))
        {
            string cell = line.Split('|')[1].Trim();
            Match range = RangePattern().Match(cell);
            if (range.Success)
            {
                for (int n = int.Parse(range.Groups["from"].Value, System.Globalization.CultureInfo.InvariantCulture); n <= int.Parse(range.Groups["to"].Value, System.Globalization.CultureInfo.InvariantCulture); n++)
                {
                    codes.Add($"OCB{n:0000}");
                }
            }
            else
            {
                codes.Add(cell);
            }
        }

        return codes;
    }

    [GeneratedRegex(@"^\s+(?:-\w, )?(?<name>--[a-z][a-z-]*)", RegexOptions.Multiline)]
    private static partial Regex OptionPattern();

    [GeneratedRegex(@"\bOCB\d{4}\b")]
    private static partial Regex CodePattern();

    [GeneratedRegex(@"^OCB(?<from>\d{4})\s*[–-]\s*OCB(?<to>\d{4})$")]
    private static partial Regex RangePattern();

    [GeneratedRegex(@"\$\((?<name>Onnx[A-Za-z]+)\)")]
    private static partial Regex PropertyPattern();
}
