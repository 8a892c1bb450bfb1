using Compression.Core.Ir;
using Compression.Core.Opsets;
using Compression.Core.Settings;
using Compression.Onnx.Protos;

namespace Compression.Core.Passes.Quantization;

/// <summary>One weight tensor the pass quantized.</summary>
/// <param name="Name">The initializer's name (the DequantizeLinear output keeps it).</param>
/// <param name="OpTypes">The operators that read it (MatMul, Gemm, Conv).</param>
/// <param name="Shape">Its dimensions.</param>
/// <param name="Axis">The output-channel axis that has one scale per index, or -1 for one scale for the whole weight.</param>
/// <param name="OriginalBytes">Bytes of the float data.</param>
/// <param name="QuantizedBytes">Bytes of the int8 data, scales and zero points.</param>
/// <param name="MaxAbsError">The largest difference between a weight and its dequantized value.</param>
public sealed record QuantizedWeight(string Name, IReadOnlyList<string> OpTypes, IReadOnlyList<long> Shape, int Axis, long OriginalBytes, long QuantizedBytes, double MaxAbsError);

/// <summary>A weight the pass looked at and left in float, with the reason.</summary>
/// <param name="Name">The initializer or value name.</param>
/// <param name="OpType">The operator that reads it.</param>
/// <param name="Reason">Why it was left alone.</param>
public sealed record SkippedWeight(string Name, string OpType, string Reason);

/// <summary>What <see cref="WeightQuantizer.Apply"/> changed.</summary>
/// <param name="Quantized">The weights now stored as int8.</param>
/// <param name="Skipped">The weights left in float, with reasons.</param>
/// <param name="Opset">The opset change the new operators needed, if any.</param>
/// <param name="SessionConfig">Session configuration entries ONNX Runtime needs to run the result at full speed.</param>
public sealed record WeightQuantizationResult(
    IReadOnlyList<QuantizedWeight> Quantized,
    IReadOnlyList<SkippedWeight> Skipped,
    OpsetChange? Opset,
    IReadOnlyDictionary<string, string> SessionConfig);

/// <summary>
/// The standard form of int8 weight quantization on a model message on its own: each MatMul, Gemm and Conv weight
/// becomes an int8 initializer through DequantizeLinear (symmetric, one scale per output channel, opset 13) whose output
/// keeps the weight's name (<c>StandardOps=true</c>, every other setting at its default but the threshold).
/// </summary>
public static class WeightQuantizer
{
    /// <summary>The opset per-axis DequantizeLinear needs.</summary>
    public const long RequiredOpset = WeightQuantizationPass.RequiredOpsetVersion;

    /// <summary>The session entry that lets ONNX Runtime fold constant DequantizeLinear nodes.</summary>
    public const string DisableQdqConfigKey = WeightQuantizationPass.DisableQdqConfigKey;

    /// <summary>Quantizes the eligible weights of <paramref name="model"/> in place, raising its opset as needed.</summary>
    /// <param name="model">The model; its external data must be loaded.</param>
    /// <param name="weightThreshold">Weights with fewer elements stay float.</param>
    /// <param name="modelPath">The model's path, for error messages.</param>
    public static WeightQuantizationResult Apply(ModelProto model, long weightThreshold, string? modelPath = null)
    {
        Model ir = Model.FromProto(model);
        CompressionSettings settings = CompressionSettings.Default
            .Set(QuantizationSettings.WeightThreshold, weightThreshold)
            .Set(QuantizationSettings.StandardOps, true);
        var context = new PassContext(ir, SettingsResolver.Resolve(settings, modelPath ?? "model"), modelPath ?? "model");
        PipelineResult result = CompressionPipeline.Run(context, [new WeightQuantizationPass()]);
        ir.ToProto();
        PassResult pass = result.Passes[0];
        var quantized = pass.Changed.Select(c => new QuantizedWeight(c.Name, c.OpTypes, c.Shape, c.Axis ?? -1, c.BytesBefore, c.BytesAfter, c.MaxAbsError)).ToList();
        var skipped = pass.LeftAlone.Select(s => new SkippedWeight(s.Name, s.OpType, s.Reason)).ToList();
        return new WeightQuantizationResult(quantized, skipped, result.Opset, result.SessionConfig);
    }
}
