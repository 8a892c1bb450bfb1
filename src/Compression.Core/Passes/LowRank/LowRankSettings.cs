using Compression.Core.Settings;

namespace Compression.Core.Passes.LowRank;

/// <summary>The options of low-rank factorization.</summary>
public static class LowRankSettings
{
    /// <summary>The technique's name in the README and the report.</summary>
    public const string Technique = "Low-rank factorization";

    /// <summary>The fraction of each weight's parameters kept.</summary>
    public static NumberSetting LowRank { get; } = new(
        "LowRank", Technique, SettingScope.Node, double.NaN, 0.01, 0.99,
        "Low-rank factorization: MatMul and Gemm weights become two thinner layers (W ≈ A B, by SVD) and Conv a k x k convolution to r " +
        "channels followed by a 1 x 1 one, keeping about this fraction of the parameters of the layers it may factorize (`0.5`: half), " +
        "the ranks chosen across layers from their singular values' energy; a layer is factorized only where the factors hold at most " +
        "70% of its parameters (smaller and faster in ONNX Runtime). With `CalibrationData` MatMul and Gemm factorizations are whitened " +
        "by the layer's input activations and, with `Distill`, the second factor is refit to the original layer's outputs. `none` (the " +
        "default) factorizes nothing.");

    /// <summary>Every option of the technique, in README order.</summary>
    public static IReadOnlyList<Setting> All { get; } = [LowRank];
}
