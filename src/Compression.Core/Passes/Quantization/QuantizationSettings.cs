using Compression.Core.Settings;

namespace Compression.Core.Passes.Quantization;

/// <summary>The options of weight quantization.</summary>
public static class QuantizationSettings
{
    /// <summary>The technique's name in the README and the report.</summary>
    public const string Technique = "Quantization";

    /// <summary>Quantize nothing.</summary>
    public const string None = "none";

    /// <summary>int8 weights, symmetric, one scale per output channel.</summary>
    public const string Int8 = "int8";

    /// <summary>Which weight quantization applies.</summary>
    public static ChoiceSetting Quantize { get; } = new(
        "Quantize", Technique, SettingScope.Node, Int8, [Int8, None],
        "Weight quantization: `int8` (MatMul, Gemm and Conv weights, symmetric, one scale per output channel) or `none`.")
    {
        Alias = "-q",
    };

    /// <summary>The smallest weight, in elements, that is quantized.</summary>
    public static IntegerSetting WeightThreshold { get; } = new(
        "WeightThreshold", Technique, SettingScope.Node, 1024, 0, long.MaxValue,
        "Weights with fewer elements stay float.");

    /// <summary>One scale per output channel, or one for the whole tensor.</summary>
    public static BooleanSetting PerChannel { get; } = new(
        "PerChannel", Technique, SettingScope.Node, true,
        "int8 scales: one per output channel (`true`), or one for the whole weight (`false`: a few bytes smaller, less accurate).");

    /// <summary>Every option of the technique, in README order.</summary>
    public static IReadOnlyList<Setting> All { get; } = [Quantize, WeightThreshold, PerChannel];
}
