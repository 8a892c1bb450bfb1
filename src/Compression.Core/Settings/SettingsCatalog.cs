using Compression.Core.Evaluation;
using Compression.Core.Passes.Clustering;
using Compression.Core.Passes.Distillation;
using Compression.Core.Passes.LowRank;
using Compression.Core.Passes.Pruning;
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

    /// <summary>Which tensors go to the external data file, once the compressed model keeps external data.</summary>
    public static IntegerSetting ExternalDataThreshold { get; } = new(
        "ExternalDataThreshold", General, SettingScope.Model, 1024, 0, long.MaxValue,
        "When the compressed model keeps external data (because as one file it would exceed protobuf's 2 GiB limit, or because the original kept external data), every tensor of at least this many bytes goes to the data file `<output>.data` beside it (offsets aligned to 4096 bytes), as do the tensors copied unread from the original's data files; smaller ones stay in the `.onnx` file. It never makes a small model use external data.");

    /// <summary>Every setting, in README order.</summary>
    public static IReadOnlyList<Setting> All { get; } = [Overrides, ExternalDataThreshold, .. QuantizationSettings.All, .. PruningSettings.All, .. LowRankSettings.All,
        .. ClusteringSettings.All, .. DistillationSettings.All, .. EvaluationSettings.All, .. Search.SearchSettings.All];

    /// <summary>The setting named <paramref name="name"/> (its metadata name, any case), or null.</summary>
    public static Setting? Find(string name) => All.FirstOrDefault(s => s.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
}
