using System.Text;

namespace Compression.Core.Settings;

/// <summary>
/// What the declarations give the MSBuild integration and the README: the generated settings targets (every project
/// property forwarded to the compressor) and the settings reference table. Tests check both files against this.
/// </summary>
public static class SettingsDocumentation
{
    /// <summary>The file the package's targets import: <c>build/Compression.Build.Settings.targets</c>.</summary>
    public const string MSBuildFileName = "Compression.Build.Settings.targets";

    /// <summary>The README's marker lines around the settings table.</summary>
    public const string TableStart = "<!-- settings table: generated from the declarations; UPDATE_DOCS=1 dotnet test --filter SettingsDocumentation rewrites it -->";

    /// <summary>The end marker of the settings table.</summary>
    public const string TableEnd = "<!-- end of settings table -->";

    /// <summary>The settings targets: one property, <c>_OnnxProjectSettings</c>, with <c>Name=$(OnnxName)</c> per setting, one per line.</summary>
    public static string MSBuildTargets()
    {
        var text = new StringBuilder();
        text.Append("<Project>\n");
        text.Append("  <!--\n");
        text.Append("    Generated from the compressor's settings declarations (Compression.Core.Settings.SettingsCatalog); a test checks it,\n");
        text.Append("    and UPDATE_DOCS=1 dotnet test -filter SettingsDocumentation rewrites it. Do not edit.\n");
        text.Append("    Each setting's project property, forwarded to the compressor, which knows its default and valid values.\n");
        text.Append("  -->\n");
        text.Append("  <PropertyGroup>\n");
        text.Append("    <_OnnxProjectSettings>");
        text.Append(string.Join("%0A", SettingsCatalog.All.Select(s => s.Name + "=$(" + s.PropertyName + ")")));
        text.Append("</_OnnxProjectSettings>\n");
        text.Append("  </PropertyGroup>\n");
        text.Append("</Project>\n");
        return text.ToString();
    }

    /// <summary>The README's settings table, markers included.</summary>
    public static string ReadmeTable()
    {
        var text = new StringBuilder();
        text.Append(TableStart).Append('\n');
        text.Append("| Technique | Metadata and overrides key | Project property | Command line | Default | Valid values | Per op type / node | What it does |\n");
        text.Append("|---|---|---|---|---|---|---|---|\n");
        foreach (Setting setting in SettingsCatalog.All)
        {
            string option = setting.OptionName + (setting.Alias is null ? string.Empty : ", " + setting.Alias);
            string defaultText = setting.DefaultText.Length == 0 ? "(none)" : "`" + setting.DefaultText + "`";
            text.Append("| ").Append(setting.Technique).Append(" | `").Append(setting.Name).Append("` | `").Append(setting.PropertyName).Append("` | `").Append(option).Append("` | ")
                .Append(defaultText).Append(" | ").Append(setting.ValidValues).Append(" | ")
                .Append(setting.Scope == SettingScope.Node ? "yes" : "no").Append(" | ").Append(setting.Doc.Replace("|", "\\|", StringComparison.Ordinal)).Append(" |\n");
        }

        text.Append(TableEnd).Append('\n');
        return text.ToString();
    }
}
