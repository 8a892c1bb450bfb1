using Compression.Core.Settings;

namespace Compression.Core.Passes.Clustering;

/// <summary>The options of weight clustering (palettization).</summary>
public static class ClusteringSettings
{
    /// <summary>The technique's name in the README and the report.</summary>
    public const string Technique = "Clustering";

    /// <summary>One codebook per weight.</summary>
    public const string PerTensor = "tensor";

    /// <summary>One codebook per output channel.</summary>
    public const string PerChannel = "channel";

    /// <summary>Bits per index: the weight takes 2^B shared values.</summary>
    public static IntegerSetting Cluster { get; } = new(
        "Cluster", Technique, SettingScope.Node, IntegerSetting.AutoValue, 1, 8,
        "Weight clustering: each MatMul, Gemm and Conv weight takes at most 2^B shared values (k-means), stored as packed B-bit indices " +
        "and a codebook that ONNX Runtime expands to float at load (a smaller file that runs at float speed); a pruned zero stays exactly zero. " +
        "With `CalibrationData` and `Distill` the codebooks are refit to the original layer's outputs. `none` (the default) clusters nothing.")
    {
        AutoName = "none",
    };

    /// <summary>One codebook per weight or per output channel.</summary>
    public static ChoiceSetting ClusterGranularity { get; } = new(
        "ClusterGranularity", Technique, SettingScope.Node, PerTensor, [PerTensor, PerChannel],
        "`tensor`: one codebook of 2^B values per weight; `channel`: one per output channel (more accurate, a larger codebook).");

    /// <summary>Every option of the technique, in README order.</summary>
    public static IReadOnlyList<Setting> All { get; } = [Cluster, ClusterGranularity];
}
