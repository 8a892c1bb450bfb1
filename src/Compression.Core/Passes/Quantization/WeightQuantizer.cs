using System.Globalization;
using Compression.Core.Ir;
using Compression.Core.Opsets;
using Compression.Core.Settings;
using Compression.Onnx;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

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
/// int8 weight quantization of MatMul, Gemm and Conv: each float weight initializer with at least
/// <see cref="QuantizationSettings.WeightThreshold"/> elements becomes an int8 initializer feeding a DequantizeLinear
/// node (symmetric, one scale per output channel, opset 13), whose output keeps the weight's name so that the nodes
/// reading it, in the main graph and in subgraphs, are unchanged. Settings apply per node (the overrides file); a weight
/// read by several nodes is quantized only when they agree.
/// </summary>
/// <remarks>
/// ONNX Runtime keeps DequantizeLinear nodes in place for QDQ fusion by default, which makes a weight-only
/// quantized model slower than the original; with the session entry <c>session.disable_quant_qdq=1</c> it folds
/// the constant weights back to float at load and runs at float speed. The result carries that entry.
/// </remarks>
public sealed class WeightQuantizationPass : ICompressionPass
{
    /// <summary>The opset per-axis DequantizeLinear needs.</summary>
    public const long RequiredOpsetVersion = 13;

    /// <summary>The session entry that lets ONNX Runtime fold constant DequantizeLinear nodes.</summary>
    public const string DisableQdqConfigKey = "session.disable_quant_qdq";

    /// <inheritdoc />
    public string Name => "int8-weights";

    /// <inheritdoc />
    public long RequiredOpset(PassContext context) => FindCandidates(context, []).Count > 0 ? RequiredOpsetVersion : 0;

    /// <inheritdoc />
    public PassResult Run(PassContext context)
    {
        var skipped = new List<SkippedWeight>();
        List<Candidate> candidates = FindCandidates(context, skipped);
        var quantized = new List<QuantizedWeight>(candidates.Count);
        var inserted = new Dictionary<Graph, int>();
        foreach (Candidate candidate in candidates)
        {
            quantized.Add(Quantize(candidate, inserted));
        }

        var warnings = new List<CompressionWarning>();
        if (quantized.Count == 0 && candidates.Count == 0 && WantsInt8Anywhere(context))
        {
            long threshold = context.Settings.Get(QuantizationSettings.WeightThreshold);
            warnings.Add(new CompressionWarning(DiagnosticCodes.NothingCompressed,
                $"Quantize={QuantizationSettings.Int8} found no MatMul, Gemm or Conv weight to quantize " +
                $"(constant float weights of at least {threshold} elements); the model is copied unchanged. " +
                "Lower WeightThreshold to include smaller weights."));
        }

        var result = new PassResult(Name)
        {
            Modified = quantized.Count > 0,
            Techniques = Describe(quantized),
            Changed = quantized.Select(w => new TensorChange(w.Name, "int8, symmetric, " + Granularity(w), w.OpTypes, w.Shape, w.OriginalBytes, w.QuantizedBytes, w.MaxAbsError, w.Axis < 0 ? null : w.Axis)).ToList(),
            LeftAlone = skipped.Select(s => new TensorLeftAlone(s.Name, s.OpType, s.Reason)).ToList(),
            Warnings = warnings,
        };
        if (quantized.Count == 0)
        {
            return result;
        }

        return result with
        {
            SessionConfig = new SortedDictionary<string, string>(StringComparer.Ordinal) { [DisableQdqConfigKey] = "1" },
            Notes =
            [
                $"Run this model with the ONNX Runtime session option {DisableQdqConfigKey}=1 (the generated class sets it). " +
                "ONNX Runtime then folds the int8 weights back to float when it loads the model and runs it at float speed; " +
                "without it ONNX Runtime keeps the DequantizeLinear nodes and runs the model about 2x slower.",
            ],
        };
    }

    /// <summary>The weights as <see cref="QuantizedWeight"/>s, from a pass result (for callers of the pass alone).</summary>
    internal static IReadOnlyList<string> Describe(IReadOnlyList<QuantizedWeight> quantized)
    {
        if (quantized.Count == 0)
        {
            return [];
        }

        // One line per granularity, per channel first: the line of a model quantized per channel is as it always was.
        return quantized.GroupBy(Granularity).OrderBy(g => g.Key == PerChannelText ? 0 : 1).Select(group =>
        {
            long values = group.Sum(w => w.OriginalBytes / sizeof(float));
            int count = group.Count();
            string operators = string.Join("/", group.SelectMany(w => w.OpTypes).Distinct().Order(StringComparer.Ordinal));
            return string.Create(CultureInfo.InvariantCulture,
                $"int8 weights: {count} {operators} weight {(count == 1 ? "tensor" : "tensors")} ({values:N0} values), symmetric, {group.Key}");
        }).ToList();
    }

    private const string PerChannelText = "one scale per output channel";

    private static string Granularity(QuantizedWeight weight) => weight.Axis < 0 ? "one scale per tensor" : PerChannelText;

    private static bool WantsInt8Anywhere(PassContext context) =>
        context.Settings.Get(QuantizationSettings.Quantize) != QuantizationSettings.None
        || context.Model.Nodes.Any(n => context.Settings.Get(QuantizationSettings.Quantize, n) != QuantizationSettings.None);

    private static QuantizedWeight Quantize(Candidate candidate, Dictionary<Graph, int> inserted)
    {
        Value weight = candidate.Weight;
        Graph graph = weight.Graph;
        TensorProto tensor = weight.LoadInitializer();
        long[] dims = [.. tensor.Dims];
        ReadOnlySpan<float> values = tensor.View<float>().Span;
        // One scale for the whole weight: the same arithmetic over the weight seen as a single channel.
        long[] scaleDims = candidate.PerChannel ? dims : [1, values.Length];
        int scaleAxis = candidate.PerChannel ? candidate.Axis : 0;
        long channels = scaleDims[scaleAxis];
        var levels = new sbyte[values.Length];
        var scales = new float[channels];
        Int8Quantization.QuantizePerChannel(values, scaleDims, scaleAxis, levels, scales);
        var result = new QuantizedWeight(
            weight.Name,
            candidate.OpTypes,
            dims,
            candidate.PerChannel ? candidate.Axis : -1,
            OriginalBytes: values.Length * sizeof(float),
            QuantizedBytes: levels.Length + (channels * (sizeof(float) + sizeof(sbyte))),
            MaxAbsError: MaxDequantizationError(values, scaleDims, scaleAxis, levels, scales));

        // The int8 tensor, its scales and zero points take the float weight's place among the initializers, and the
        // weight's value is now computed by DequantizeLinear. New nodes read only initializers, so they go first, in
        // the order of the weights, and the graph stays in topological order.
        string name = weight.Name;
        int position = graph.DetachInitializer(weight);
        Value quantizedValue = graph.AddInitializer(TensorValues.Create<sbyte>(name + "_quantized", dims, levels), position);
        long[] parameterDims = candidate.PerChannel ? [channels] : [];
        Value scale = graph.AddInitializer(TensorValues.Create<float>(name + "_scale", parameterDims, scales), position + 1);
        Value zeroPoint = graph.AddInitializer(TensorValues.Create<sbyte>(name + "_zero_point", parameterDims, new sbyte[channels]), position + 2);
        AttributeProto[] axis = candidate.PerChannel ? [new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = candidate.Axis }] : [];
        Node dequantize = graph.CreateNode("DequantizeLinear", string.Empty, name + "_DequantizeLinear", [quantizedValue, scale, zeroPoint], [weight], axis);
        int index = inserted.TryGetValue(graph, out int count) ? count : 0;
        graph.Insert(index, dequantize);
        inserted[graph] = index + 1;
        return result;
    }

    private static List<Candidate> FindCandidates(PassContext context, List<SkippedWeight> skipped)
    {
        ResolvedSettings settings = context.Settings;

        // Every weight slot of every MatMul, Gemm and Conv, in every graph, grouped by the value it reads.
        var uses = new Dictionary<Value, List<(Node Node, int Axis, string? Problem)>>(ReferenceEqualityComparer.Instance);
        foreach (Node node in context.Model.Nodes)
        {
            if (!node.IsDefaultDomain || node.Inputs.Count < 2 || !IsWeightOperator(node.OpType) || node.Inputs[1] is not { } value)
            {
                continue;
            }

            if (!value.IsInitializer)
            {
                skipped.Add(new SkippedWeight(value.Name, node.OpType, IsQuantized(value)
                    ? "already quantized (int8 initializer through DequantizeLinear)"
                    : "not a constant initializer (computed at run time)"));
                continue;
            }

            if (!uses.TryGetValue(value, out List<(Node, int, string?)>? list))
            {
                uses[value] = list = [];
            }

            list.Add((node, OutputChannelAxis(node, value.Initializer!.Dims.Count), null));
        }

        var candidates = new List<Candidate>();
        foreach (Value weight in context.Model.Graphs.SelectMany(g => g.Initializers))
        {
            if (!uses.TryGetValue(weight, out List<(Node Node, int Axis, string? Problem)>? list))
            {
                continue;
            }

            string opTypes = string.Join("/", list.Select(u => u.Node.OpType).Distinct().Order(StringComparer.Ordinal));
            (string quantize, long threshold, bool perChannel)? agreed = Agree(weight, list.Select(u => u.Node).ToList(), settings, context.ModelPath);
            if (agreed is not { } chosen)
            {
                continue;
            }

            if (chosen.quantize == QuantizationSettings.None)
            {
                skipped.Add(new SkippedWeight(weight.Name, opTypes, $"Quantize=none ({settings.OriginOf(QuantizationSettings.Quantize, list[0].Node)})"));
                continue;
            }

            string? problem = CheckWeight(weight, chosen.threshold);
            int axis = list[0].Axis;
            if (problem is null && axis < 0)
            {
                problem = $"a {weight.Initializer!.Dims.Count}-D weight is not the weight layout {list[0].Node.OpType} quantization expects";
            }

            if (problem is null && list.Any(u => u.Axis != axis))
            {
                problem = "read by operators with different output-channel axes";
            }

            if (problem is not null)
            {
                foreach ((Node node, _, _) in list.DistinctBy(u => u.Node.OpType))
                {
                    skipped.Add(new SkippedWeight(weight.Name, problem.StartsWith("read by", StringComparison.Ordinal) ? opTypes : node.OpType, problem));
                    if (problem.StartsWith("read by", StringComparison.Ordinal))
                    {
                        break;
                    }
                }

                continue;
            }

            candidates.Add(new Candidate(weight, axis, list.Select(u => u.Node.OpType).Distinct().Order(StringComparer.Ordinal).ToList(), chosen.perChannel));
        }

        return candidates;
    }

    /// <summary>The settings every reader of a shared weight gives it; an error when they differ.</summary>
    private static (string Quantize, long Threshold, bool PerChannel)? Agree(Value weight, IReadOnlyList<Node> readers, ResolvedSettings settings, string modelPath)
    {
        (string Quantize, long Threshold, bool PerChannel) Of(Node node) =>
            (settings.Get(QuantizationSettings.Quantize, node), settings.Get(QuantizationSettings.WeightThreshold, node), settings.Get(QuantizationSettings.PerChannel, node));
        (string Quantize, long Threshold, bool PerChannel) first = Of(readers[0]);
        foreach (Node reader in readers.Skip(1))
        {
            (string Quantize, long Threshold, bool PerChannel) other = Of(reader);
            if (other != first)
            {
                throw new CompressionException(DiagnosticCodes.SharedWeightConflict, modelPath,
                    $"The weight '{weight.Name}' is read by {readers[0]} and {reader}, whose settings differ: " +
                    $"Quantize={first.Quantize}, WeightThreshold={first.Threshold}, PerChannel={first.PerChannel} ({settings.OriginOf(QuantizationSettings.Quantize, readers[0])}) against " +
                    $"Quantize={other.Quantize}, WeightThreshold={other.Threshold}, PerChannel={other.PerChannel} ({settings.OriginOf(QuantizationSettings.Quantize, reader)}). " +
                    "One tensor can be stored only one way: give every node that reads it the same settings in the overrides file.");
            }
        }

        return first;
    }

    private static bool IsQuantized(Value value) =>
        value.Producer is { OpType: "DequantizeLinear", IsDefaultDomain: true } producer && producer.Inputs.Count > 0 && producer.Inputs[0] is { IsInitializer: true };

    private static bool IsWeightOperator(string opType) => opType is "MatMul" or "Gemm" or "Conv";

    private static string? CheckWeight(Value weight, long weightThreshold)
    {
        TensorProto tensor = weight.Initializer!;
        if (tensor.DataType != (int)DataType.Float)
        {
            return $"element type {TensorDataTypes.Describe((DataType)tensor.DataType)}, not float";
        }

        long count = TensorShape.ElementCount(tensor.Dims);
        if (count < weightThreshold)
        {
            return $"{count} elements, below the weight threshold of {weightThreshold}";
        }

        ReadOnlySpan<float> values = weight.LoadInitializer().View<float>().Span;
        return AllFinite(values) ? null : "holds NaN or infinite values";
    }

    /// <summary>The axis of the output channels in a weight of rank <paramref name="rank"/>, or -1 when the layout does not fit.</summary>
    private static int OutputChannelAxis(Node node, int rank) => node.OpType switch
    {
        // [..., K, N]: N output features.
        "MatMul" => rank >= 2 ? rank - 1 : -1,
        // B is [K, N], or [N, K] with transB.
        "Gemm" => rank != 2 ? -1 : node.GetInt("transB", 0) != 0 ? 0 : 1,
        // [M, C/group, k1, k2, ...]: M output channels.
        "Conv" => rank >= 3 ? 0 : -1,
        _ => -1,
    };

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float value in values)
        {
            if (!float.IsFinite(value))
            {
                return false;
            }
        }

        return true;
    }

    private static double MaxDequantizationError(ReadOnlySpan<float> values, long[] dims, int axis, sbyte[] levels, float[] scales)
    {
        var restored = new float[values.Length];
        Int8Quantization.DequantizePerChannel(levels, dims, axis, scales, restored);
        double max = 0;
        for (int i = 0; i < values.Length; i++)
        {
            max = Math.Max(max, Math.Abs((double)values[i] - restored[i]));
        }

        return max;
    }

    private sealed record Candidate(Value Weight, int Axis, IReadOnlyList<string> OpTypes, bool PerChannel);
}

/// <summary>int8 weight quantization of a model message on its own, with every setting at its default but the threshold.</summary>
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
        ResolvedSettings settings = SettingsResolver.Resolve(CompressionSettings.Default.Set(QuantizationSettings.WeightThreshold, weightThreshold), modelPath ?? "model");
        var context = new PassContext(ir, settings, modelPath ?? "model");
        PipelineResult result = CompressionPipeline.Run(context, [new WeightQuantizationPass()]);
        ir.ToProto();
        PassResult pass = result.Passes[0];
        var quantized = pass.Changed.Select(c => new QuantizedWeight(c.Name, c.OpTypes, c.Shape, c.Axis ?? -1, c.BytesBefore, c.BytesAfter, c.MaxAbsError)).ToList();
        var skipped = pass.LeftAlone.Select(s => new SkippedWeight(s.Name, s.OpType, s.Reason)).ToList();
        return new WeightQuantizationResult(quantized, skipped, result.Opset, result.SessionConfig);
    }
}
