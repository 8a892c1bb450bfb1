using System.Globalization;

namespace Compression.Core;

/// <summary>How weights are quantized.</summary>
public enum WeightQuantization
{
    /// <summary>Weights stay as they are.</summary>
    None,

    /// <summary>Weights of MatMul, Gemm and Conv become int8, symmetric, one scale per output channel.</summary>
    Int8,
}

/// <summary>
/// What to do to one model. The build fills it from project properties (global defaults) and item metadata
/// (per model); the CLI from its options.
/// </summary>
public sealed record CompressionSettings
{
    /// <summary>The default <see cref="WeightThreshold"/>: smaller tensors gain little and lose accuracy first.</summary>
    public const int DefaultWeightThreshold = 1024;

    /// <summary>The default number of synthesized input sets a validation runs.</summary>
    public const int DefaultValidationSamples = 4;

    /// <summary>The weight quantization to apply. <see cref="WeightQuantization.Int8"/> by default.</summary>
    public WeightQuantization Quantize { get; init; } = WeightQuantization.Int8;

    /// <summary>Weights with fewer elements than this are left in float.</summary>
    public int WeightThreshold { get; init; } = DefaultWeightThreshold;

    /// <summary>Run the original and the compressed model in ONNX Runtime and compare their outputs. On by default.</summary>
    public bool Validate { get; init; } = true;

    /// <summary>A folder of TensorProto files (<c>*.pb</c>) to validate with, instead of synthesized inputs.</summary>
    public string? ValidationDataDirectory { get; init; }

    /// <summary>How many synthesized input sets validation runs.</summary>
    public int ValidationSamples { get; init; } = DefaultValidationSamples;

    /// <summary>Reads a quantization name as users write it: <c>int8</c>, <c>none</c> (case-insensitive).</summary>
    /// <exception cref="CompressionException">The name is not one of the known values (OCB0003).</exception>
    public static WeightQuantization ParseQuantize(string? value, string? modelPath = null)
    {
        string text = (value ?? string.Empty).Trim();
        if (text.Length == 0 || text.Equals("none", StringComparison.OrdinalIgnoreCase) || text.Equals("false", StringComparison.OrdinalIgnoreCase))
        {
            return WeightQuantization.None;
        }

        if (text.Equals("int8", StringComparison.OrdinalIgnoreCase))
        {
            return WeightQuantization.Int8;
        }

        throw new CompressionException(DiagnosticCodes.InvalidSetting, modelPath,
            $"Quantize='{value}' is not a known quantization. Use 'int8' (int8 weights, per output channel) or 'none'.");
    }

    /// <summary>The name of a quantization as users write it.</summary>
    public static string Format(WeightQuantization quantization) => quantization switch
    {
        WeightQuantization.Int8 => "int8",
        _ => "none",
    };

    /// <summary>Reads a weight threshold (a non-negative element count).</summary>
    /// <exception cref="CompressionException">The value is not a non-negative integer (OCB0003).</exception>
    public static int ParseWeightThreshold(string? value, string? modelPath = null)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return DefaultWeightThreshold;
        }

        if (int.TryParse(value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int threshold))
        {
            return threshold;
        }

        throw new CompressionException(DiagnosticCodes.InvalidSetting, modelPath,
            $"WeightThreshold='{value}' is not a number of elements. Use a non-negative integer such as {DefaultWeightThreshold}.");
    }
}
