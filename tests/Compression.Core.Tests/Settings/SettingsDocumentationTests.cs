using Compression.Core.Settings;

namespace Compression.Core.Tests.Settings;

/// <summary>
/// The README's settings table and the package's settings targets come from the declarations. Run with UPDATE_DOCS=1 to
/// rewrite both after changing a declaration.
/// </summary>
public sealed class SettingsDocumentationTests
{
    private static bool Update => Environment.GetEnvironmentVariable("UPDATE_DOCS") == "1";

    [Fact]
    public void The_README_settings_table_matches_the_declarations()
    {
        string path = Path.Combine(RepositoryPaths.Root, "README.md");
        string readme = File.ReadAllText(path);
        int start = readme.IndexOf(SettingsDocumentation.TableStart, StringComparison.Ordinal);
        int end = readme.IndexOf(SettingsDocumentation.TableEnd, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, "README.md lacks the settings table's markers.");
        string current = readme[start..(end + SettingsDocumentation.TableEnd.Length + 1)];
        if (Update)
        {
            File.WriteAllText(path, readme.Replace(current, SettingsDocumentation.ReadmeTable(), StringComparison.Ordinal));
            return;
        }

        Assert.Equal(SettingsDocumentation.ReadmeTable(), current);
    }

    [Fact]
    public void The_settings_targets_forward_every_declared_property()
    {
        string path = Path.Combine(RepositoryPaths.Root, "src", "Compression.Build", "build", SettingsDocumentation.MSBuildFileName);
        if (Update)
        {
            File.WriteAllText(path, SettingsDocumentation.MSBuildTargets());
            return;
        }

        Assert.True(File.Exists(path), $"{path} is missing; run the tests with UPDATE_DOCS=1.");
        Assert.Equal(SettingsDocumentation.MSBuildTargets(), File.ReadAllText(path));
    }

    [Fact]
    public void Names_follow_one_rule_and_are_unique()
    {
        Assert.Equal(SettingsCatalog.All.Count, SettingsCatalog.All.Select(s => s.Name.ToUpperInvariant()).Distinct().Count());
        Assert.All(SettingsCatalog.All, s =>
        {
            Assert.Equal("Onnx" + s.Name, s.PropertyName);
            Assert.Matches("^--[a-z]+(-[a-z][a-z0-9]*)*$", s.OptionName);
            Assert.True(char.IsUpper(s.Name[0]), s.Name);
            Assert.False(string.IsNullOrWhiteSpace(s.Doc));
        });
        Assert.Equal("--max-accuracy-drop", EvaluationSettingsOption("MaxAccuracyDrop"));
    }

    [Fact]
    public void The_README_lists_every_diagnostic_code()
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "README.md"));
        string[] codes = typeof(DiagnosticCodes).GetFields().Select(f => (string)f.GetValue(null)!).ToArray();

        Assert.NotEmpty(codes);
        Assert.All(codes, code => Assert.Contains("| " + code + " |", readme, StringComparison.Ordinal));
    }

    private static string EvaluationSettingsOption(string name) => SettingsCatalog.Find(name)!.OptionName;
}
