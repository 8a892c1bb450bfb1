using Compression.Core.Evaluation;
using Compression.Core.Passes.Quantization;

namespace Compression.Core.Settings;

/// <summary>Every setting of every technique: what the command line, the MSBuild integration, the report and the README list.</summary>
public static class SettingsCatalog
{
    /// <summary>The technique's name of settings that concern the compression as a whole.</summary>
    public const string General = "General";

    /// <summary>The per-model overrides file.</summary>
    public static PathSetting Overrides { get; } = new(
        "Overrides", General, isFolder: false,
        "A JSON file of settings per operator type and per node: `{\"opTypes\": {\"Conv\": {\"Quantize\": \"none\"}}, \"nodes\": {\"/fc1/MatMul\": {\"WeightThreshold\": 0}}}`; a node name beats an op type beats the model beats the project, and `\"none\"` in place of an object leaves a node alone.");

    /// <summary>Every setting, in README order.</summary>
    public static IReadOnlyList<Setting> All { get; } = [Overrides, .. QuantizationSettings.All, .. EvaluationSettings.All];

    /// <summary>The setting named <paramref name="name"/> (its metadata name, any case), or null.</summary>
    public static Setting? Find(string name) => All.FirstOrDefault(s => s.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
}
