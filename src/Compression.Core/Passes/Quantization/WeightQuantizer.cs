using Compression.Core.Opsets;
using Compression.Onnx;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Passes.Quantization;

/// <summary>One weight tensor the pass quantized.</summary>
/// <param name="Name">The initializer's name (the DequantizeLinear output keeps it).</param>
/// <param name="OpTypes">The operators that read it (MatMul, Gemm, Conv).</param>
/// <param name="Shape">Its dimensions.</param>
/// <param name="Axis">The output-channel axis that has one scale per index.</param>
/// <param name="OriginalBytes">Bytes of the float data.</param>
/// <param name="QuantizedBytes">Bytes of the int8 data, scales and zero points.</param>
/// <param name="MaxAbsError">The largest difference between a weight and its dequantized value.</param>
public sealed record QuantizedWeight(string Name, IReadOnlyList<string> OpTypes, IReadOnlyList<long> Shape, int Axis, long OriginalBytes, long QuantizedBytes, double MaxAbsError);

/// <summary>A weight the pass looked at and left in float, with the reason.</summary>
/// <param name="Name">The initializer or value name.</param>
/// <param name="OpType">The operator that reads it.</param>
/// <param name="Reason">Why it was left alone.</param>
public sealed record SkippedWeight(string Name, string OpType, string Reason);

/// <summary>What <see cref="WeightQuantizer"/> changed.</summary>
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
/// int8 weight quantization of MatMul, Gemm and Conv: each float weight initializer with at least the threshold's
/// number of elements becomes an int8 initializer feeding a DequantizeLinear node (symmetric, one scale per output
/// channel, opset 13), whose output keeps the weight's name so that the nodes reading it are unchanged.
/// </summary>
/// <remarks>
/// ONNX Runtime keeps DequantizeLinear nodes in place for QDQ fusion by default, which makes a weight-only
/// quantized model slower than the original; with the session entry <c>session.disable_quant_qdq=1</c> it folds
/// the constant weights back to float at load and runs at float speed. The result carries that entry.
/// </remarks>
public static class WeightQuantizer
{
    /// <summary>The opset per-axis DequantizeLinear needs.</summary>
    public const long RequiredOpset = 13;

    /// <summary>The session entry that lets ONNX Runtime fold constant DequantizeLinear nodes.</summary>
    public const string DisableQdqConfigKey = "session.disable_quant_qdq";

    /// <summary>Quantizes the eligible weights of <paramref name="model"/> in place.</summary>
    /// <param name="model">The model; its external data must be loaded.</param>
    /// <param name="weightThreshold">Weights with fewer elements stay float.</param>
    /// <param name="modelPath">The model's path, for error messages.</param>
    public static WeightQuantizationResult Apply(ModelProto model, int weightThreshold, string? modelPath = null)
    {
        GraphProto graph = model.Graph ?? new GraphProto();
        var skipped = new List<SkippedWeight>();
        List<Candidate> candidates = FindCandidates(graph, weightThreshold, skipped);
        if (candidates.Count == 0)
        {
            return new WeightQuantizationResult([], skipped, null, new Dictionary<string, string>());
        }

        OpsetChange? opset = OpsetUpgrade.Apply(model, RequiredOpset, modelPath);

        var names = new NameScope(graph);
        var graphInputs = new Dictionary<string, ValueInfoProto>(StringComparer.Ordinal);
        foreach (ValueInfoProto input in graph.Input)
        {
            graphInputs[input.Name] = input;
        }

        var quantized = new List<QuantizedWeight>(candidates.Count);
        var dequantizeNodes = new List<NodeProto>(candidates.Count);
        // Keyed by reference: protobuf messages compare by value, which would compare whole weight tensors.
        var replacements = new Dictionary<TensorProto, TensorProto[]>(ReferenceEqualityComparer.Instance);
        foreach (Candidate candidate in candidates)
        {
            TensorProto weight = candidate.Initializer;
            long[] dims = [.. weight.Dims];
            ReadOnlySpan<float> values = weight.View<float>().Span;
            long channels = dims[candidate.Axis];
            var levels = new sbyte[values.Length];
            var scales = new float[channels];
            Int8Quantization.QuantizePerChannel(values, dims, candidate.Axis, levels, scales);

            string weightName = weight.Name;
            string quantizedName = names.Reserve(weightName + "_quantized");
            string scaleName = names.Reserve(weightName + "_scale");
            string zeroPointName = names.Reserve(weightName + "_zero_point");

            TensorProto quantizedTensor = TensorValues.Create<sbyte>(quantizedName, dims, levels);
            TensorProto scaleTensor = TensorValues.Create<float>(scaleName, [channels], scales);
            TensorProto zeroPointTensor = TensorValues.Create<sbyte>(zeroPointName, [channels], new sbyte[channels]);

            replacements[weight] = [quantizedTensor, scaleTensor, zeroPointTensor];

            // IR < 4 models list initializers among the graph inputs; the float weight no longer exists as a
            // constant, so it cannot stay an input that callers could override.
            if (graphInputs.TryGetValue(weightName, out ValueInfoProto? listedAsInput))
            {
                graph.Input.Remove(listedAsInput);
            }

            dequantizeNodes.Add(new NodeProto
            {
                Name = names.Reserve(weightName + "_DequantizeLinear"),
                OpType = "DequantizeLinear",
                Domain = string.Empty,
                Input = { quantizedName, scaleName, zeroPointName },
                Output = { weightName },
                Attribute = { new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = candidate.Axis } },
            });

            quantized.Add(new QuantizedWeight(
                weightName,
                candidate.OpTypes,
                dims,
                candidate.Axis,
                OriginalBytes: values.Length * sizeof(float),
                QuantizedBytes: levels.Length + (channels * (sizeof(float) + sizeof(sbyte))),
                MaxAbsError: MaxDequantizationError(values, dims, candidate.Axis, levels, scales)));
        }

        // Each quantized weight takes its float original's place among the initializers.
        TensorProto[] initializers = [.. graph.Initializer];
        graph.Initializer.Clear();
        foreach (TensorProto initializer in initializers)
        {
            graph.Initializer.AddRange(replacements.TryGetValue(initializer, out TensorProto[]? replacement) ? replacement : [initializer]);
        }

        // The new nodes read only initializers, so they go first and the graph stays in topological order.
        NodeProto[] nodes = [.. graph.Node];
        graph.Node.Clear();
        graph.Node.AddRange(dequantizeNodes);
        graph.Node.AddRange(nodes);

        var sessionConfig = new SortedDictionary<string, string>(StringComparer.Ordinal) { [DisableQdqConfigKey] = "1" };
        return new WeightQuantizationResult(quantized, skipped, opset, sessionConfig);
    }

    private static List<Candidate> FindCandidates(GraphProto graph, int weightThreshold, List<SkippedWeight> skipped)
    {
        var initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (TensorProto tensor in graph.Initializer)
        {
            initializers[tensor.Name] = tensor;
        }

        // Weight slot and channel axis of every use, grouped by initializer in the order the initializers appear.
        var uses = new Dictionary<string, List<(string OpType, int Axis)>>(StringComparer.Ordinal);
        var rejected = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (NodeProto node in graph.Node)
        {
            if (!OpsetVersions.IsDefaultDomain(node.Domain) || node.Input.Count < 2 || !IsWeightOperator(node.OpType))
            {
                continue;
            }

            string name = node.Input[1];
            if (name.Length == 0)
            {
                continue;
            }

            if (!initializers.TryGetValue(name, out TensorProto? weight))
            {
                skipped.Add(new SkippedWeight(name, node.OpType, "not a constant initializer (computed at run time)"));
                continue;
            }

            string? problem = CheckWeight(weight, weightThreshold);
            int axis = OutputChannelAxis(node, weight.Dims.Count);
            if (problem is null && axis < 0)
            {
                problem = $"a {weight.Dims.Count}-D weight is not the weight layout {node.OpType} quantization expects";
            }

            if (problem is not null)
            {
                rejected.TryAdd(name, problem);
                skipped.Add(new SkippedWeight(name, node.OpType, problem));
                continue;
            }

            if (!uses.TryGetValue(name, out List<(string, int)>? list))
            {
                uses[name] = list = [];
            }

            list.Add((node.OpType, axis));
        }

        var candidates = new List<Candidate>();
        foreach (TensorProto tensor in graph.Initializer)
        {
            if (!uses.TryGetValue(tensor.Name, out List<(string OpType, int Axis)>? list))
            {
                continue;
            }

            if (rejected.ContainsKey(tensor.Name))
            {
                continue;
            }

            int axis = list[0].Axis;
            bool agree = true;
            var opTypes = new SortedSet<string>(StringComparer.Ordinal);
            foreach ((string opType, int useAxis) in list)
            {
                agree &= useAxis == axis;
                opTypes.Add(opType);
            }

            if (!agree)
            {
                skipped.Add(new SkippedWeight(tensor.Name, string.Join("/", opTypes), "read by operators with different output-channel axes"));
                continue;
            }

            candidates.Add(new Candidate(tensor, axis, [.. opTypes]));
        }

        return candidates;
    }

    private static bool IsWeightOperator(string opType) => opType is "MatMul" or "Gemm" or "Conv";

    private static string? CheckWeight(TensorProto weight, int weightThreshold)
    {
        if (weight.DataType != (int)DataType.Float)
        {
            return $"element type {TensorDataTypes.Describe((DataType)weight.DataType)}, not float";
        }

        if (weight.DataLocation == TensorProto.Types.DataLocation.External)
        {
            return "external data was not loaded";
        }

        long count = TensorShape.ElementCount(weight.Dims);
        if (count < weightThreshold)
        {
            return $"{count} elements, below the weight threshold of {weightThreshold}";
        }

        ReadOnlySpan<float> values = weight.View<float>().Span;
        return AllFinite(values) ? null : "holds NaN or infinite values";
    }

    /// <summary>The axis of the output channels in a weight of rank <paramref name="rank"/>, or -1 when the layout does not fit.</summary>
    private static int OutputChannelAxis(NodeProto node, int rank)
    {
        switch (node.OpType)
        {
            case "MatMul":
                // [..., K, N]: N output features.
                return rank >= 2 ? rank - 1 : -1;
            case "Gemm":
                // B is [K, N], or [N, K] with transB.
                if (rank != 2)
                {
                    return -1;
                }

                foreach (AttributeProto attribute in node.Attribute)
                {
                    if (attribute.Name == "transB" && attribute.I != 0)
                    {
                        return 0;
                    }
                }

                return 1;
            case "Conv":
                // [M, C/group, k1, k2, ...]: M output channels.
                return rank >= 3 ? 0 : -1;
            default:
                return -1;
        }
    }

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

    private sealed record Candidate(TensorProto Initializer, int Axis, IReadOnlyList<string> OpTypes);
}
