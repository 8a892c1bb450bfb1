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
        "channels followed by a 1 x 1 one, keeping about this fraction of the parameters over the model (`0.5`: half), each layer's rank " +
        "chosen from its singular values' energy; a layer is factorized only where it is smaller and faster for it. With `CalibrationData` " +
        "the factorization is whitened by the layer's input activations. `none` (the default) factorizes nothing.");

    /// <summary>Every option of the technique, in README order.</summary>
    public static IReadOnlyList<Setting> All { get; } = [LowRank];
}
