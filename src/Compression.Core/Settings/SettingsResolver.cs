namespace Compression.Core.Settings;

/// <summary>Checks the settings given for a model and resolves every declared setting to one value, with its source.</summary>
public static class SettingsResolver
{
    /// <summary>Resolves <paramref name="settings"/> for the model at <paramref name="modelPath"/>.</summary>
    /// <exception cref="CompressionException">A value is not valid for its setting (OCB0003), or the overrides file is
    /// unusable (OCB0007).</exception>
    public static ResolvedSettings Resolve(CompressionSettings settings, string modelPath)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var values = new Dictionary<Setting, (object Value, SettingOrigin Origin)>();
        foreach (Setting setting in SettingsCatalog.All)
        {
            // The model level beats the project level; an empty value (a property or metadata left unset) gives nothing.
            SettingEntry? entry = settings.Entries.LastOrDefault(e => ReferenceEquals(e.Setting, setting) && e.Origin.Level == SettingLevel.Model && e.Text.Trim().Length > 0)
                ?? settings.Entries.LastOrDefault(e => ReferenceEquals(e.Setting, setting) && e.Origin.Level == SettingLevel.Project && e.Text.Trim().Length > 0);
            if (entry is null)
            {
                values[setting] = (setting.DefaultValue!, SettingOrigin.Default);
                continue;
            }

            object value = ParseValue(setting, entry.Text, entry.Origin, modelPath);
            if (setting is PathSetting && value is string path && path.Length > 0)
            {
                value = Path.GetFullPath(path, settings.BaseDirectory ?? Directory.GetCurrentDirectory());
            }

            values[setting] = (value, entry.Origin);
        }

        string overridesPath = (string)values[SettingsCatalog.Overrides].Value;
        OverridesFile? overrides = overridesPath.Length == 0 ? null : OverridesFile.Load(overridesPath, modelPath);
        return new ResolvedSettings(values, overrides);
    }

    /// <summary>Reads <paramref name="text"/> as a value of <paramref name="setting"/>.</summary>
    /// <exception cref="CompressionException">It is not a valid value (OCB0003); the message names the setting, where the
    /// value came from, and the valid values.</exception>
    public static object ParseValue(Setting setting, string text, SettingOrigin origin, string? modelPath)
    {
        try
        {
            return setting.Parse(text);
        }
        catch (FormatException)
        {
            throw new CompressionException(DiagnosticCodes.InvalidSetting, modelPath,
                $"{setting.Name}='{text}' ({origin.Description}) is not a valid value. Valid values: {setting.ValidValues}.");
        }
    }
}
