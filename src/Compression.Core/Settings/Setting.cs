using System.Globalization;
using System.Text;

namespace Compression.Core.Settings;

/// <summary>Where a setting may vary.</summary>
public enum SettingScope
{
    /// <summary>One value for the whole model: a project property, the model's metadata, or the command line.</summary>
    Model,

    /// <summary>Also per operator type and per node, through the model's overrides file.</summary>
    Node,
}

/// <summary>The level a value comes from; a later level beats an earlier one.</summary>
public enum SettingLevel
{
    /// <summary>The declaration's default.</summary>
    Default,

    /// <summary>A project property (<c>OnnxQuantize</c>), for every model of the project.</summary>
    Project,

    /// <summary>The model's item metadata (<c>Quantize</c>), or the command line.</summary>
    Model,

    /// <summary>An operator type in the overrides file.</summary>
    OpType,

    /// <summary>A node name in the overrides file.</summary>
    Node,
}

/// <summary>Where one value of a setting came from, for reports and error messages.</summary>
/// <param name="Level">The level.</param>
/// <param name="Description">Where exactly, as a user would find it (<c>project property OnnxQuantize</c>,
/// <c>op type 'Conv' in overrides file '/app/digits.overrides.json'</c>).</param>
public sealed record SettingOrigin(SettingLevel Level, string Description)
{
    /// <summary>The declaration's default.</summary>
    public static SettingOrigin Default { get; } = new(SettingLevel.Default, "default");

    /// <inheritdoc />
    public override string ToString() => Description;
}

/// <summary>
/// One option of a compression technique, declared once: its name, type, default, valid values and one-line doc. The
/// command line option (<c>--weight-threshold</c>), the <c>OnnxModel</c> metadata (<c>WeightThreshold</c>), the project
/// property (<c>OnnxWeightThreshold</c>), the overrides-file key, the settings stamp, the report and the README table all
/// come from it.
/// </summary>
public abstract class Setting
{
    private protected Setting(string name, string technique, SettingScope scope, string doc)
    {
        Name = name;
        Technique = technique;
        Scope = scope;
        Doc = doc;
    }

    /// <summary>The metadata name and overrides-file key (<c>WeightThreshold</c>).</summary>
    public string Name { get; }

    /// <summary>The technique that declares it, as the README groups settings (<c>Quantization</c>).</summary>
    public string Technique { get; }

    /// <summary>Whether it may vary per operator type and node.</summary>
    public SettingScope Scope { get; }

    /// <summary>What it does, in one line.</summary>
    public string Doc { get; }

    /// <summary>A short command-line alias (<c>-q</c>), or null.</summary>
    public string? Alias { get; init; }

    /// <summary>The project property: <c>Onnx</c> and the name.</summary>
    public string PropertyName => "Onnx" + Name;

    /// <summary>The command-line option: the name in kebab case (<c>--weight-threshold</c>).</summary>
    public string OptionName => "--" + KebabCase(Name);

    /// <summary>The default as users write it; empty when there is none.</summary>
    public abstract string DefaultText { get; }

    /// <summary>The valid values, as a message or the README states them (<c>int8, none</c>).</summary>
    public abstract string ValidValues { get; }

    /// <summary>What the command line shows as the value's placeholder (<c>int8|none</c>, <c>N</c>).</summary>
    public abstract string HelpName { get; }

    /// <summary>Reads a value as users write it.</summary>
    /// <exception cref="FormatException">The text is not a valid value; the message says what is.</exception>
    public abstract object Parse(string text);

    /// <summary>The value as users write it (for reports and stamps).</summary>
    public abstract string Format(object value);

    /// <summary>The default value, or null when the setting has none.</summary>
    public abstract object? DefaultValue { get; }

    /// <summary>
    /// The value <c>none</c> stands for, when the setting takes it and it turns its technique off for a node (<c>Quantize=none</c>,
    /// <c>Prune=none</c>), or null: an overrides-file entry <c>"none"</c> sets every node-scope setting that has one.
    /// </summary>
    public virtual object? NoneValue => null;

    /// <summary>PascalCase to kebab-case: <c>MaxAccuracyDrop</c> → <c>max-accuracy-drop</c>.</summary>
    public static string KebabCase(string name)
    {
        var text = new StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                text.Append('-');
            }

            text.Append(char.ToLowerInvariant(name[i]));
        }

        return text.ToString();
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>A setting whose values are of type <typeparamref name="T"/>.</summary>
public abstract class Setting<T> : Setting where T : notnull
{
    private protected Setting(string name, string technique, SettingScope scope, T defaultValue, string doc)
        : base(name, technique, scope, doc)
    {
        Default = defaultValue;
    }

    /// <summary>The default.</summary>
    public T Default { get; }

    /// <inheritdoc />
    public override object? DefaultValue => Default;

    /// <inheritdoc />
    public override string DefaultText => Format(Default);

    /// <inheritdoc />
    public override object Parse(string text) => ParseValue(text.Trim());

    /// <inheritdoc />
    public override string Format(object value) => FormatValue((T)value);

    /// <summary>Reads a value.</summary>
    /// <exception cref="FormatException">The text is not a valid value.</exception>
    protected abstract T ParseValue(string text);

    /// <summary>Writes a value as users write it.</summary>
    protected abstract string FormatValue(T value);
}

/// <summary>A setting with a fixed list of names (<c>int8</c>, <c>none</c>), matched without regard to case.</summary>
public sealed class ChoiceSetting : Setting<string>
{
    private readonly IReadOnlyList<string> choices;

    /// <summary>Declares the setting.</summary>
    public ChoiceSetting(string name, string technique, SettingScope scope, string defaultValue, IReadOnlyList<string> choices, string doc)
        : base(name, technique, scope, defaultValue, doc)
    {
        this.choices = choices;
    }

    /// <summary>The names it takes.</summary>
    public IReadOnlyList<string> Choices => choices;

    /// <summary>
    /// Values of a form rather than a list (<c>N:M</c>), or null: parsing reads one into its canonical text, or
    /// returns null for text not of the form.
    /// </summary>
    public Func<string, string?>? OtherValues { get; init; }

    /// <summary>How <see cref="OtherValues"/> reads in a message (<c>N:M with N &lt; M, such as 2:4</c>).</summary>
    public string? OtherValuesText { get; init; }

    /// <summary>The form of <see cref="OtherValues"/> in the command line's help (<c>N:M</c>).</summary>
    public string? OtherValuesHelpName { get; init; }

    /// <inheritdoc />
    public override object? NoneValue => choices.Contains("none") ? "none" : null;

    /// <inheritdoc />
    public override string ValidValues => string.Join(", ", choices) + (OtherValuesText is null ? string.Empty : $", or {OtherValuesText}");

    /// <inheritdoc />
    public override string HelpName => string.Join("|", OtherValuesHelpName is null ? choices : [.. choices, OtherValuesHelpName]);

    /// <inheritdoc />
    protected override string ParseValue(string text) =>
        choices.FirstOrDefault(c => c.Equals(text, StringComparison.OrdinalIgnoreCase)) ?? OtherValues?.Invoke(text) ?? throw new FormatException($"valid values: {ValidValues}");

    /// <inheritdoc />
    protected override string FormatValue(string value) => value;
}

/// <summary>A whole number in a range.</summary>
public sealed class IntegerSetting : Setting<long>
{
    /// <summary>Declares the setting.</summary>
    public IntegerSetting(string name, string technique, SettingScope scope, long defaultValue, long minimum, long maximum, string doc)
        : base(name, technique, scope, defaultValue, doc)
    {
        Minimum = minimum;
        Maximum = maximum;
    }

    /// <summary>The smallest value.</summary>
    public long Minimum { get; }

    /// <summary>The largest value.</summary>
    public long Maximum { get; }

    /// <summary>True when only powers of two between <see cref="Minimum"/> and <see cref="Maximum"/> are valid.</summary>
    public bool PowerOfTwo { get; init; }

    /// <summary>
    /// The word held as <see cref="AutoValue"/> (<c>auto</c>: the pass chooses; <c>none</c>: the technique is off), or null
    /// when every value is a number.
    /// </summary>
    public string? AutoName { get; init; }

    /// <inheritdoc />
    public override object? NoneValue => AutoName == "none" ? AutoValue : null;

    /// <summary>The value that stands for <see cref="AutoName"/>: 0, outside the range of numbers a user may give.</summary>
    public const long AutoValue = 0;

    /// <inheritdoc />
    public override string ValidValues => (AutoName is null ? string.Empty : $"{AutoName}, or ") + (PowerOfTwo
        ? $"a power of two from {Minimum.ToString(CultureInfo.InvariantCulture)} to {Maximum.ToString(CultureInfo.InvariantCulture)}"
        : Maximum == long.MaxValue
        ? $"a whole number of at least {Minimum.ToString(CultureInfo.InvariantCulture)}"
        : $"a whole number from {Minimum.ToString(CultureInfo.InvariantCulture)} to {Maximum.ToString(CultureInfo.InvariantCulture)}");

    /// <inheritdoc />
    public override string HelpName => AutoName is null ? "N" : $"N|{AutoName}";

    /// <inheritdoc />
    protected override long ParseValue(string text) =>
        AutoName is not null && text.Equals(AutoName, StringComparison.OrdinalIgnoreCase) ? AutoValue
        : long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value) && value >= Minimum && value <= Maximum
            && (!PowerOfTwo || (value & (value - 1)) == 0)
            ? value
            : throw new FormatException($"valid values: {ValidValues}");

    /// <inheritdoc />
    protected override string FormatValue(long value) =>
        AutoName is not null && value == AutoValue ? AutoName : value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A number in a range, or none (no limit) when the default is none.</summary>
public sealed class NumberSetting : Setting<double>
{
    /// <summary>Declares the setting; <paramref name="defaultValue"/> NaN means none.</summary>
    public NumberSetting(string name, string technique, SettingScope scope, double defaultValue, double minimum, double maximum, string doc)
        : base(name, technique, scope, defaultValue, doc)
    {
        Minimum = minimum;
        Maximum = maximum;
    }

    /// <summary>The smallest value.</summary>
    public double Minimum { get; }

    /// <summary>The largest value.</summary>
    public double Maximum { get; }

    /// <inheritdoc />
    public override string ValidValues => double.IsPositiveInfinity(Maximum)
        ? $"a number of at least {Minimum.ToString(CultureInfo.InvariantCulture)}, or none"
        : $"a number from {Minimum.ToString(CultureInfo.InvariantCulture)} to {Maximum.ToString(CultureInfo.InvariantCulture)}, or none";

    /// <inheritdoc />
    public override string HelpName => "X";

    /// <inheritdoc />
    public override object? NoneValue => double.NaN;

    /// <inheritdoc />
    protected override double ParseValue(string text)
    {
        if (text.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return double.NaN;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value >= Minimum && value <= Maximum
            ? value
            : throw new FormatException($"valid values: {ValidValues}");
    }

    /// <inheritdoc />
    protected override string FormatValue(double value) => double.IsNaN(value) ? "none" : value.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>true or false.</summary>
public sealed class BooleanSetting : Setting<bool>
{
    /// <summary>Declares the setting.</summary>
    public BooleanSetting(string name, string technique, SettingScope scope, bool defaultValue, string doc)
        : base(name, technique, scope, defaultValue, doc)
    {
    }

    /// <inheritdoc />
    public override string ValidValues => "true, false";

    /// <inheritdoc />
    public override string HelpName => "true|false";

    /// <inheritdoc />
    protected override bool ParseValue(string text) =>
        text.Equals("true", StringComparison.OrdinalIgnoreCase) ? true
        : text.Equals("false", StringComparison.OrdinalIgnoreCase) ? false
        : throw new FormatException($"valid values: {ValidValues}");

    /// <inheritdoc />
    protected override string FormatValue(bool value) => value ? "true" : "false";
}

/// <summary>A file or folder, relative to the project folder (or the current folder on the command line); none by default.</summary>
public sealed class PathSetting : Setting<string>
{
    /// <summary>Declares the setting.</summary>
    public PathSetting(string name, string technique, bool isFolder, string doc)
        : base(name, technique, SettingScope.Model, string.Empty, doc)
    {
        IsFolder = isFolder;
    }

    /// <summary>True for a folder, false for a file.</summary>
    public bool IsFolder { get; }

    /// <inheritdoc />
    public override string ValidValues => IsFolder ? "the path of a folder" : "the path of a file";

    /// <inheritdoc />
    public override string HelpName => IsFolder ? "DIR" : "FILE";

    /// <inheritdoc />
    protected override string ParseValue(string text) => text;

    /// <inheritdoc />
    protected override string FormatValue(string value) => value;
}
