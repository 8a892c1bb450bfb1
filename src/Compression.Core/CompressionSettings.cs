using Compression.Core.Settings;

namespace Compression.Core;

/// <summary>One value given for a setting, as written, with where it was given.</summary>
/// <param name="Setting">The setting.</param>
/// <param name="Text">The value as written.</param>
/// <param name="Origin">Where it was given: a project property, the model's metadata, the command line.</param>
public sealed record SettingEntry(Setting Setting, string Text, SettingOrigin Origin);

/// <summary>
/// The settings given for one model, at the project and model levels, as written: the build fills them from project
/// properties and item metadata, the command line from its options, code with <see cref="Set{T}(Setting{T}, T)"/>.
/// What is not given takes the declaration's default; the overrides file (<see cref="SettingsCatalog.Overrides"/>) adds
/// the op type and node levels. <see cref="SettingsResolver"/> checks and resolves them.
/// </summary>
public sealed class CompressionSettings
{
    private static readonly SettingOrigin Code = new(SettingLevel.Model, "the compression request");

    private CompressionSettings(IReadOnlyList<SettingEntry> entries, string? baseDirectory)
    {
        Entries = entries;
        BaseDirectory = baseDirectory;
    }

    /// <summary>Nothing given: every setting at its default.</summary>
    public static CompressionSettings Default { get; } = new([], null);

    /// <summary>The values given, in the order given; for one setting and level the last wins.</summary>
    public IReadOnlyList<SettingEntry> Entries { get; }

    /// <summary>The folder relative paths are resolved against (the project folder in a build); the current folder when null.</summary>
    public string? BaseDirectory { get; }

    /// <summary>These settings with <paramref name="setting"/> given the value <paramref name="value"/> at the model level.</summary>
    public CompressionSettings Set<T>(Setting<T> setting, T value) where T : notnull =>
        Set(setting, setting.Format(value), Code);

    /// <summary>These settings with <paramref name="setting"/> given <paramref name="text"/> at <paramref name="origin"/>.</summary>
    public CompressionSettings Set(Setting setting, string text, SettingOrigin origin)
    {
        ArgumentNullException.ThrowIfNull(setting);
        ArgumentNullException.ThrowIfNull(origin);
        return new CompressionSettings([.. Entries, new SettingEntry(setting, text ?? string.Empty, origin)], BaseDirectory);
    }

    /// <summary>These settings with relative paths resolved against <paramref name="directory"/>.</summary>
    public CompressionSettings WithBaseDirectory(string? directory) => new(Entries, directory);
}
