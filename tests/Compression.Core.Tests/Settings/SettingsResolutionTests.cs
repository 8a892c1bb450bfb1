using Compression.Core.Evaluation;
using Compression.Core.Passes.Quantization;
using Compression.Core.Settings;

namespace Compression.Core.Tests.Settings;

/// <summary>Each setting resolves from the model level, else the project level, else its default, and says where from.</summary>
public sealed class SettingsResolutionTests
{
    private static readonly SettingOrigin Property = new(SettingLevel.Project, "project property OnnxWeightThreshold");
    private static readonly SettingOrigin Metadata = new(SettingLevel.Model, "metadata WeightThreshold of OnnxModel 'Models/digits.onnx'");

    [Fact]
    public void Metadata_beats_the_project_property_which_beats_the_default()
    {
        ResolvedSettings none = Resolve(CompressionSettings.Default);
        ResolvedSettings project = Resolve(CompressionSettings.Default.Set(QuantizationSettings.WeightThreshold, "10", Property));
        ResolvedSettings model = Resolve(CompressionSettings.Default
            .Set(QuantizationSettings.WeightThreshold, "20", Metadata)
            .Set(QuantizationSettings.WeightThreshold, "10", Property));

        Assert.Equal((1024L, "default"), (none.Get(QuantizationSettings.WeightThreshold), none.OriginOf(QuantizationSettings.WeightThreshold).Description));
        Assert.Equal((10L, Property.Description), (project.Get(QuantizationSettings.WeightThreshold), project.OriginOf(QuantizationSettings.WeightThreshold).Description));
        Assert.Equal((20L, Metadata.Description), (model.Get(QuantizationSettings.WeightThreshold), model.OriginOf(QuantizationSettings.WeightThreshold).Description));
    }

    [Fact]
    public void An_empty_value_gives_nothing_so_the_next_level_applies()
    {
        ResolvedSettings settings = Resolve(CompressionSettings.Default
            .Set(QuantizationSettings.WeightThreshold, " ", Metadata)
            .Set(QuantizationSettings.WeightThreshold, "10", Property));

        Assert.Equal(10L, settings.Get(QuantizationSettings.WeightThreshold));
    }

    [Theory]
    [InlineData("Quantize", "int3", "Valid values: int8, uint8, int4, uint4, fp16, none.")]
    [InlineData("WeightThreshold", "-1", "Valid values: a whole number of at least 0.")]
    [InlineData("WeightThreshold", "lots", "Valid values: a whole number of at least 0.")]
    [InlineData("Validate", "yes", "Valid values: true, false.")]
    [InlineData("MinCosineSimilarity", "2", "Valid values: a number from -1 to 1, or none.")]
    [InlineData("CompressionGate", "ignore", "Valid values: error, warn.")]
    public void An_invalid_value_is_OCB0003_naming_the_setting_its_origin_and_the_valid_values(string name, string value, string valid)
    {
        Setting setting = SettingsCatalog.Find(name)!;
        var origin = new SettingOrigin(SettingLevel.Project, "project property " + setting.PropertyName);

        var e = Assert.Throws<CompressionException>(() => Resolve(CompressionSettings.Default.Set(setting, value, origin)));

        Assert.Equal(DiagnosticCodes.InvalidSetting, e.Code);
        Assert.Equal($"{name}='{value}' (project property {setting.PropertyName}) is not a valid value. {valid}", e.Message);
    }

    [Fact]
    public void Paths_resolve_against_the_base_directory_and_the_report_lists_every_setting()
    {
        using var folder = new TemporaryFolder();
        ResolvedSettings settings = Resolve(CompressionSettings.Default.WithBaseDirectory(folder.Path)
            .Set(EvaluationSettings.ValidationData, "samples", Metadata));

        Assert.Equal(Path.Combine(folder.Path, "samples"), settings.Get(EvaluationSettings.ValidationData));
        Assert.Equal(SettingsCatalog.All.Select(s => s.Name), settings.Report().Select(r => r.Name));
        Assert.Equal("none", settings.Report().Single(r => r.Name == "MaxAccuracyDrop").Value);
    }

    [Fact]
    public void Choice_values_are_matched_without_regard_to_case_and_written_as_declared()
    {
        ResolvedSettings settings = Resolve(CompressionSettings.Default.Set(QuantizationSettings.Quantize, "INT8", Metadata));

        Assert.Equal("int8", settings.Get(QuantizationSettings.Quantize));
    }

    private static ResolvedSettings Resolve(CompressionSettings settings) => SettingsResolver.Resolve(settings, RepositoryPaths.DigitsModel);
}
