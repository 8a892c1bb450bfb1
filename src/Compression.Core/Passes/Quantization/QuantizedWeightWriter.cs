using Compression.Core.Ir;
using Compression.Onnx;
using Compression.Onnx.Protos;
using AttributeType = Compression.Onnx.Protos.AttributeProto.Types.AttributeType;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Passes.Quantization;

/// <summary>
/// Quantizes the weights of <see cref="WeightPlan"/>s and writes each in its form: new initializers where the float weight
/// was, and the nodes that read them. Integer inputs for MatMulInteger are quantized once per value and shared by every
/// node that reads the value.
/// </summary>
internal sealed class QuantizedWeightWriter(Model model)
{
    /// <summary>The domain of ONNX Runtime's contrib operators.</summary>
    public const string MicrosoftDomain = "com.microsoft";

    private readonly Dictionary<(Value Input, Graph Graph), (Value Levels, Value Scale, Value ZeroPoint)> dynamicInputs = [];
    private readonly Dictionary<Graph, int> constantsInserted = [];

    /// <summary>Quantizes the plan's weight (with GPTQ when <paramref name="hessian"/> is given) and rewrites the graph around it.</summary>
    public TensorChange Write(WeightPlan plan, double[]? hessian = null)
    {
        Value weight = plan.Weight;
        TensorProto tensor = weight.LoadInitializer();
        long[] dims = [.. tensor.Dims];
        if (plan.Form == WeightForm.Half)
        {
            return WriteHalf(plan, tensor, dims);
        }

        float[] channelMajor = ChannelLayout.ToChannelMajor(tensor.View<float>().Span, dims, plan.Axis, out int channels, out int length);
        var format = new BlockFormat(plan.Bits, plan.BlockSize > 0 ? plan.BlockSize : length, Symmetric: !plan.Choice.HasZeroPoints);
        BlockQuantizedWeight quantized = BlockQuantization.Quantize(channelMajor, channels, length, format);
        double? outputError = null;
        double? roundingOutputError = null;
        if (hessian is not null)
        {
            // GPTQ against round-to-nearest on the same activations: the report gives both.
            roundingOutputError = Gptq.RelativeOutputError(channelMajor, quantized, hessian);
            quantized = Gptq.Quantize(channelMajor, channels, length, hessian, format);
            outputError = Gptq.RelativeOutputError(channelMajor, quantized, hessian);
        }

        double maxError = double.IsNaN(quantized.MaxError) ? MaxError(channelMajor, quantized) : quantized.MaxError;
        double sparsity = ZeroShare(channelMajor);

        Graph graph = weight.Graph;
        var emitted = new Emitted(graph, graph.Initializers.ToList().IndexOf(weight), weight.Name);
        switch (plan.Form)
        {
            case WeightForm.PackedMatMul:
                WritePackedMatMul(plan, quantized, emitted);
                break;
            case WeightForm.DynamicMatMul:
                WriteDynamicMatMul(plan, quantized, dims, emitted);
                break;
            case WeightForm.PackedGather:
                WritePackedGather(plan, quantized, emitted);
                break;
            case WeightForm.Standard when plan.Bits == 4:
                WriteStandard4Bit(plan, quantized, dims, emitted);
                break;
            default:
                WriteDequantized(plan, quantized, dims, emitted);
                break;
        }

        if (weight.IsInitializer && weight.Uses.Count == 0 && !weight.IsGraphOutput)
        {
            graph.RemoveInitializer(weight);
        }

        // The float values are no longer part of the model: let their memory go now, not when the model is written; the
        // new weights go to the compressed model's external data file now when it has one.
        emitted.Spill();
        Release(tensor);

        string technique = plan.Note is null ? plan.Technique : $"{plan.Technique} ({plan.Note})";
        return new TensorChange(weight.Name, technique, plan.OpTypes,
            dims, TensorShape.ElementCount(dims) * sizeof(float), emitted.Bytes, maxError, plan.Axis < 0 ? null : plan.Axis)
        {
            OutputError = outputError,
            RoundingOutputError = roundingOutputError,
            Sparsity = sparsity,
        };
    }

    /// <summary>
    /// The share of a weight's elements that are exactly zero (pruned): every quantized form stores zero exactly (symmetric
    /// levels at the midpoint, zero points rounded from the range, which always holds zero; GPTQ keeps them), so they stay
    /// zero in the compressed model.
    /// </summary>
    private static double ZeroShare(ReadOnlySpan<float> values)
    {
        long zeros = 0;
        foreach (float value in values)
        {
            zeros += value == 0 ? 1 : 0;
        }

        return values.Length == 0 ? 0 : (double)zeros / values.Length;
    }

    private void WritePackedMatMul(WeightPlan plan, BlockQuantizedWeight quantized, Emitted emitted)
    {
        BlockFormat format = quantized.Format;
        int n = quantized.N;
        int k = quantized.K;
        int blocks = format.BlocksPer(k);
        Value levels = emitted.Add(TensorValues.Create<byte>("_quantized", [n, blocks, format.BlobBytes], quantized.PackLevels()));
        Value scales = emitted.Add(TensorValues.Create<float>("_scales", [n * blocks], quantized.Scales));
        Value? zeroPoints = format.Symmetric ? null : emitted.Add(TensorValues.Create<byte>("_zero_points", [quantized.PackZeroPoints().Length], quantized.PackZeroPoints()));
        model.ImportOperatorSet(MicrosoftDomain, 1);
        foreach (WeightSlot slot in plan.Slots)
        {
            Node node = slot.Node;
            Graph graph = node.Graph!;
            (Value nodeScales, Value? bias, Value? addAfter) = slot.Kind == SlotKind.Gemm ? GemmParts(node, scales, quantized.Scales, n, emitted) : (scales, null, null);
            Value output = graph.CreateValue(node.Outputs[0]!.Name + "_nbits");
            Value?[] inputs = bias is null
                ? zeroPoints is null ? [node.Inputs[0], levels, nodeScales] : [node.Inputs[0], levels, nodeScales, zeroPoints]
                : [node.Inputs[0], levels, nodeScales, zeroPoints, null, bias];
            Node packed = graph.CreateNode("MatMulNBits", MicrosoftDomain, node.Name + "_MatMulNBits", inputs, [output],
                [Int("K", k), Int("N", n), Int("bits", format.Bits), Int("block_size", format.BlockSize), Int("accuracy_level", 4)]);
            Finish(node, packed, addAfter);
        }
    }

    private void WriteDynamicMatMul(WeightPlan plan, BlockQuantizedWeight quantized, long[] dims, Emitted emitted)
    {
        // MatMulInteger reads B as [K, N]: the weight's own layout for MatMul and Gemm, transposed for Gemm with transB.
        bool transposed = plan.Slots[0].Kind == SlotKind.Gemm && plan.Slots[0].Node.GetInt("transB", 0) != 0;
        byte[] original = ChannelLayout.FromChannelMajor(quantized.Levels, dims, plan.Axis);
        byte[] kn = transposed ? ChannelLayout.Transpose(original, (int)dims[0], (int)dims[1]) : original;
        long rows = transposed ? dims[1] : dims[0];
        long columns = transposed ? dims[0] : dims[1];
        long[] parameterDims = plan.Axis < 0 ? [] : [columns];
        Value levels = emitted.Add(TensorValues.Create<byte>("_quantized", [rows, columns], kn));
        Value scales = emitted.Add(TensorValues.Create<float>("_scale", parameterDims, quantized.Scales));
        Value zeroPoint = emitted.Add(TensorValues.Create<byte>("_zero_point", parameterDims, quantized.ZeroPoints));
        foreach (WeightSlot slot in plan.Slots)
        {
            Node node = slot.Node;
            Graph graph = node.Graph!;
            (Value nodeScales, Value? bias, Value? addAfter) = slot.Kind == SlotKind.Gemm
                ? GemmParts(node, scales, quantized.Scales, plan.Axis < 0 ? 0 : (int)columns, emitted)
                : (scales, null, null);
            if (bias is not null)
            {
                addAfter = bias;
            }

            (Value inputLevels, Value inputScale, Value inputZero) = QuantizedInput(node);
            string name = node.Outputs[0]!.Name;
            Value product = graph.CreateValue(name + "_integer");
            Value asFloat = graph.CreateValue(name + "_float");
            Value scale = graph.CreateValue(name + "_scale");
            Value output = graph.CreateValue(name + "_dequantized");
            graph.InsertBefore(node, graph.CreateNode("MatMulInteger", string.Empty, node.Name + "_MatMulInteger", [inputLevels, levels, inputZero, zeroPoint], [product]));
            graph.InsertBefore(node, graph.CreateNode("Cast", string.Empty, node.Name + "_Cast", [product], [asFloat], [Int("to", (long)DataType.Float)]));
            graph.InsertBefore(node, graph.CreateNode("Mul", string.Empty, node.Name + "_Scale", [inputScale, nodeScales], [scale]));
            Finish(node, graph.CreateNode("Mul", string.Empty, node.Name + "_Dequantize", [asFloat, scale], [output]), addAfter);
        }
    }

    private void WritePackedGather(WeightPlan plan, BlockQuantizedWeight quantized, Emitted emitted)
    {
        BlockFormat format = quantized.Format;
        int rows = quantized.N;
        int blocks = format.BlocksPer(quantized.K);
        byte[] packedLevels = quantized.PackLevels();
        Value levels = emitted.Add(TensorValues.Create<byte>("_quantized", [rows, packedLevels.Length / rows], packedLevels));
        Value scales = emitted.Add(TensorValues.Create<float>("_scales", [rows, blocks], quantized.Scales));
        byte[] packedZeros = quantized.PackZeroPoints();
        Value? zeroPoints = format.Symmetric ? null : emitted.Add(TensorValues.Create<byte>("_zero_points", [rows, packedZeros.Length / rows], packedZeros));
        model.ImportOperatorSet(MicrosoftDomain, 1);
        foreach (WeightSlot slot in plan.Slots)
        {
            Node node = slot.Node;
            Graph graph = node.Graph!;
            Value output = graph.CreateValue(node.Outputs[0]!.Name + "_lookup");
            Value?[] inputs = zeroPoints is null ? [levels, node.Inputs[1], scales] : [levels, node.Inputs[1], scales, zeroPoints];
            Node lookup = graph.CreateNode("GatherBlockQuantized", MicrosoftDomain, node.Name + "_GatherBlockQuantized", inputs, [output],
                [Int("gather_axis", 0), Int("quantize_axis", 1), Int("block_size", format.BlockSize), Int("bits", format.Bits)]);
            graph.ReplaceNode(node, lookup);
        }
    }

    /// <summary>
    /// The folded and standard forms: the weight's value is computed from integer constants under its own name, so every
    /// reader (in any graph) is unchanged. Folded: <c>Cast</c> (and <c>Sub</c> of the zero point) and <c>Mul</c>, which ONNX
    /// Runtime's constant folding evaluates at load. Standard: <c>DequantizeLinear</c>.
    /// </summary>
    private void WriteDequantized(WeightPlan plan, BlockQuantizedWeight quantized, long[] dims, Emitted emitted)
    {
        Value weight = plan.Weight;
        Graph graph = weight.Graph;
        byte[] levels = ChannelLayout.FromChannelMajor(quantized.Levels, dims, plan.Axis);
        bool symmetric = quantized.Format.Symmetric;
        int position = graph.DetachInitializer(weight);
        emitted.Position = position;
        Value levelsValue = symmetric
            ? emitted.Add(TensorValues.Create<sbyte>("_quantized", dims, ChannelLayout.Centered(levels, quantized.Format.Midpoint)))
            : emitted.Add(TensorValues.Create<byte>("_quantized", dims, levels));
        var nodes = new List<Node>();
        if (plan.Form is WeightForm.Standard or WeightForm.Static)
        {
            long[] parameterDims = plan.Axis < 0 ? [] : [dims[plan.Axis]];
            Value scale = emitted.Add(TensorValues.Create<float>("_scale", parameterDims, quantized.Scales));
            Value zeroPoint = symmetric
                ? emitted.Add(TensorValues.Create<sbyte>("_zero_point", parameterDims, new sbyte[quantized.Scales.Length]))
                : emitted.Add(TensorValues.Create<byte>("_zero_point", parameterDims, quantized.ZeroPoints));
            AttributeProto[] axis = plan.Axis < 0 ? [] : [Int("axis", plan.Axis)];
            nodes.Add(graph.CreateNode("DequantizeLinear", string.Empty, weight.Name + "_DequantizeLinear", [levelsValue, scale, zeroPoint], [weight], axis));
        }
        else
        {
            // The scales broadcast along the channel axis: [1, ..., C, ..., 1], or a scalar.
            long[] parameterDims = plan.Axis < 0 ? [] : dims.Select((d, i) => i == plan.Axis ? d : 1).ToArray();
            Value scale = emitted.Add(TensorValues.Create<float>("_scale", parameterDims, quantized.Scales));
            Value asFloat = graph.CreateValue(weight.Name + "_levels");
            nodes.Add(graph.CreateNode("Cast", string.Empty, weight.Name + "_Cast", [levelsValue], [asFloat], [Int("to", (long)DataType.Float)]));
            if (!symmetric)
            {
                Value zeroPoint = emitted.Add(TensorValues.Create<float>("_zero_point", parameterDims, quantized.ZeroPoints.Select(z => (float)z).ToArray()));
                Value centered = graph.CreateValue(weight.Name + "_centered");
                nodes.Add(graph.CreateNode("Sub", string.Empty, weight.Name + "_Sub", [asFloat, zeroPoint], [centered]));
                asFloat = centered;
            }

            nodes.Add(graph.CreateNode("Mul", string.Empty, weight.Name + "_Mul", [asFloat, scale], [weight]));
        }

        // New nodes read only initializers, so they go first, in the order of the weights, and the graph stays sorted.
        int index = constantsInserted.TryGetValue(graph, out int count) ? count : 0;
        foreach (Node node in nodes)
        {
            graph.Insert(index++, node);
        }

        constantsInserted[graph] = index;
    }

    /// <summary>
    /// 4-bit standard form: DequantizeLinear (opset 21) of int4 levels (uint4 with zero points) under the weight's own name.
    /// A 2-D MatMul or Gemm weight has a scale per block of <see cref="WeightPlan.BlockSize"/> along its input axis, the form
    /// ONNX Runtime fuses into MatMulNBits (for MatMul's [K, N] weight: blocks along axis 0); any other weight has a scale
    /// per output channel.
    /// </summary>
    private void WriteStandard4Bit(WeightPlan plan, BlockQuantizedWeight quantized, long[] dims, Emitted emitted)
    {
        Value weight = plan.Weight;
        Graph graph = weight.Graph;
        BlockFormat format = quantized.Format;
        bool symmetric = format.Symmetric;
        int position = graph.DetachInitializer(weight);
        emitted.Position = position;
        byte[] levels = ChannelLayout.FromChannelMajor(quantized.Levels, dims, plan.Axis);
        Value levelsValue = emitted.Add(Int4Tensor("_quantized", dims, levels, symmetric ? format.Midpoint : 0));

        AttributeProto[] attributes;
        long[] parameterDims;
        byte[] zeroPoints = quantized.ZeroPoints;
        float[] scales = quantized.Scales;
        if (plan.BlockSize > 0)
        {
            // Scales are [channels, blocks] per channel; DequantizeLinear wants the weight's layout with the input axis in blocks.
            int blockAxis = 1 - plan.Axis;
            int blocks = format.BlocksPer(quantized.K);
            parameterDims = plan.Axis == 0 ? [quantized.N, blocks] : [blocks, quantized.N];
            if (plan.Axis == 1)
            {
                scales = new float[scales.Length];
                zeroPoints = ChannelLayout.Transpose(zeroPoints, quantized.N, blocks);
                for (int n = 0; n < quantized.N; n++)
                {
                    for (int b = 0; b < blocks; b++)
                    {
                        scales[(b * quantized.N) + n] = quantized.Scales[(n * blocks) + b];
                    }
                }
            }

            attributes = [Int("axis", blockAxis), Int("block_size", plan.BlockSize)];
        }
        else
        {
            parameterDims = plan.Axis < 0 ? [] : [dims[plan.Axis]];
            attributes = plan.Axis < 0 ? [] : [Int("axis", plan.Axis)];
        }

        Value scale = emitted.Add(TensorValues.Create<float>("_scale", parameterDims, scales));
        Value?[] inputs = symmetric ? [levelsValue, scale] : [levelsValue, scale, emitted.Add(Int4Tensor("_zero_point", parameterDims, zeroPoints, 0))];
        Node dequantize = graph.CreateNode("DequantizeLinear", string.Empty, weight.Name + "_DequantizeLinear", inputs, [weight], attributes);
        int index = constantsInserted.TryGetValue(graph, out int count) ? count : 0;
        graph.Insert(index, dequantize);
        constantsInserted[graph] = index + 1;
    }

    /// <summary>
    /// A 4-bit tensor of <paramref name="values"/> (levels 0 to 15), two to a byte with the first in the low half, as ONNX
    /// stores INT4 and UINT4: signed (each value less <paramref name="midpoint"/>) when <paramref name="midpoint"/> is not 0.
    /// </summary>
    private static TensorProto Int4Tensor(string name, long[] dims, byte[] values, int midpoint)
    {
        var packed = new byte[(values.Length + 1) / 2];
        for (int i = 0; i < values.Length; i++)
        {
            int nibble = (values[i] - midpoint) & 0xF;
            packed[i / 2] |= (byte)((i & 1) == 0 ? nibble : nibble << 4);
        }

        var tensor = new TensorProto
        {
            Name = name,
            DataType = (int)(midpoint != 0 ? DataType.Int4 : DataType.Uint4),
            RawData = Google.Protobuf.ByteString.CopyFrom(packed),
        };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    /// <summary>
    /// fp16: the values as half floats (those beyond fp16's range clamped to ±65504, never infinite) and a Cast to float
    /// under the weight's name, which ONNX Runtime's constant folding evaluates at load.
    /// </summary>
    private TensorChange WriteHalf(WeightPlan plan, TensorProto tensor, long[] dims)
    {
        Value weight = plan.Weight;
        Graph graph = weight.Graph;
        ReadOnlySpan<float> values = tensor.View<float>().Span;
        var halves = new Half[values.Length];
        double maxError = 0;
        for (int i = 0; i < values.Length; i++)
        {
            halves[i] = (Half)Math.Clamp(values[i], (float)Half.MinValue, (float)Half.MaxValue);
            maxError = Math.Max(maxError, Math.Abs((double)values[i] - (float)halves[i]));
        }

        double sparsity = ZeroShare(values);

        var emitted = new Emitted(graph, graph.DetachInitializer(weight), weight.Name);
        Value half = emitted.Add(TensorValues.Create<Half>("_fp16", dims, halves));
        Node cast = graph.CreateNode("Cast", string.Empty, weight.Name + "_Cast", [half], [weight], [Int("to", (long)DataType.Float)]);
        int index = constantsInserted.TryGetValue(graph, out int count) ? count : 0;
        graph.Insert(index, cast);
        constantsInserted[graph] = index + 1;
        long bytesBefore = TensorShape.ElementCount(dims) * sizeof(float);
        emitted.Spill();
        Release(tensor);
        return new TensorChange(weight.Name, plan.Technique, plan.OpTypes,
            dims, bytesBefore, emitted.Bytes, maxError) { Sparsity = sparsity };
    }

    /// <summary>
    /// The parts of a Gemm around its product: the scales with <c>alpha</c> folded in, and <c>beta * C</c> either as a
    /// bias of <c>N</c> values (for MatMulNBits' bias input) or as a value to add after the product.
    /// </summary>
    private static (Value Scales, Value? Bias, Value? AddAfter) GemmParts(Node node, Value scales, float[] scaleValues, int n, Emitted emitted)
    {
        Graph graph = node.Graph!;
        float alpha = node.Attributes.FirstOrDefault(a => a.Name == "alpha")?.F ?? 1f;
        float beta = node.Attributes.FirstOrDefault(a => a.Name == "beta")?.F ?? 1f;
        Value nodeScales = scales;
        if (alpha != 1f)
        {
            nodeScales = emitted.Add(TensorValues.Create<float>("_scales_alpha", scales.Initializer!.Dims.ToArray(), scaleValues.Select(s => s * alpha).ToArray()));
        }

        if (node.Inputs.Count < 3 || node.Inputs[2] is not { } c)
        {
            return (nodeScales, null, null);
        }

        if (c.IsInitializer && c.Initializer!.DataType == (int)DataType.Float && n > 0 && TensorShape.ElementCount(c.Initializer.Dims) == n
            && c.Initializer.Dims.Count >= 1 && c.Initializer.Dims[^1] == n)
        {
            if (beta == 1f && c.Initializer.Dims.Count == 1)
            {
                return (nodeScales, c, null);
            }

            float[] bias = c.LoadInitializer().View<float>().Span.ToArray().Select(v => v * beta).ToArray();
            return (nodeScales, emitted.Add(TensorValues.Create<float>("_bias", [n], bias)), null);
        }

        if (beta == 1f)
        {
            return (nodeScales, null, c);
        }

        Value betaValue = emitted.Add(TensorValues.Create<float>("_beta", [], [beta]));
        Value scaled = graph.CreateValue(c.Name + "_beta");
        graph.InsertBefore(node, graph.CreateNode("Mul", string.Empty, node.Name + "_Beta", [c, betaValue], [scaled]));
        return (nodeScales, null, scaled);
    }

    /// <summary>Replaces <paramref name="node"/> by <paramref name="product"/>, followed by an Add of <paramref name="addAfter"/>.</summary>
    private static void Finish(Node node, Node product, Value? addAfter)
    {
        Graph graph = node.Graph!;
        if (addAfter is null)
        {
            graph.ReplaceNode(node, product);
            return;
        }

        graph.InsertBefore(node, product);
        Value sum = graph.CreateValue(node.Outputs[0]!.Name + "_biased");
        graph.ReplaceNode(node, graph.CreateNode("Add", string.Empty, node.Name + "_Bias", [product.Outputs[0], addAfter], [sum]));
    }

    /// <summary>The uint8 levels, scale and zero point of the node's input, quantized at run time once per value.</summary>
    private (Value Levels, Value Scale, Value ZeroPoint) QuantizedInput(Node node)
    {
        Value input = node.Inputs[0]!;
        Graph graph = node.Graph!;
        if (dynamicInputs.TryGetValue((input, graph), out (Value, Value, Value) known))
        {
            return known;
        }

        Value levels = graph.CreateValue(input.Name + "_quantized");
        Value scale = graph.CreateValue(input.Name + "_scale");
        Value zeroPoint = graph.CreateValue(input.Name + "_zero_point");
        graph.InsertBefore(node, graph.CreateNode("DynamicQuantizeLinear", string.Empty, input.Name + "_DynamicQuantizeLinear", [input], [levels, scale, zeroPoint]));
        return dynamicInputs[(input, graph)] = (levels, scale, zeroPoint);
    }

    /// <summary>The largest difference between a weight and the value the runtime computes for it, channels in parallel.</summary>
    private static double MaxError(float[] channelMajor, BlockQuantizedWeight quantized)
    {
        int k = quantized.K;
        int blockSize = quantized.Format.BlockSize;
        int blocks = quantized.Format.BlocksPer(k);
        var rowMaxima = new double[quantized.N];
        Parallel.For(0, quantized.N, row =>
        {
            double max = 0;
            for (int b = 0; b < blocks; b++)
            {
                float scale = quantized.Scales[(row * blocks) + b];
                int zero = quantized.ZeroPoints[(row * blocks) + b];
                long offset = (long)row * k;
                for (int col = b * blockSize; col < Math.Min(k, (b + 1) * blockSize); col++)
                {
                    float restored = (quantized.Levels[offset + col] - zero) * scale;
                    max = Math.Max(max, Math.Abs((double)channelMajor[offset + col] - restored));
                }
            }

            rowMaxima[row] = max;
        });

        return rowMaxima.Max();
    }

    /// <summary>
    /// Drops a replaced float tensor's data. After a large one (64 MB or more) the dead arrays of its quantization are
    /// collected at once: left to the collector's budget they pile up to over half the model's size on a large model.
    /// </summary>
    private static void Release(TensorProto tensor)
    {
        long bytes = tensor.RawData.Length + ((long)tensor.FloatData.Count * sizeof(float));
        tensor.RawData = Google.Protobuf.ByteString.Empty;
        tensor.FloatData.Clear();
        if (bytes >= LargeTensorBytes)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);
        }
    }

    private const long LargeTensorBytes = 64L << 20;

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeType.Int, I = value };

    /// <summary>The initializers one weight becomes: placed where the weight was, named after it, their bytes counted.</summary>
    private sealed class Emitted(Graph graph, int position, string baseName)
    {
        public int Position { get; set; } = position;

        public long Bytes { get; private set; }

        private readonly List<TensorProto> added = [];

        public Value Add(TensorProto tensor)
        {
            tensor.Name = baseName + tensor.Name;
            Bytes += tensor.RawData.Length;
            added.Add(tensor);
            return graph.AddInitializer(tensor, Position++);
        }

        /// <summary>Moves the finished initializers to the model's external data file, when it has one.</summary>
        public void Spill()
        {
            foreach (TensorProto tensor in added)
            {
                graph.Model.Spill(tensor);
            }
        }
    }
}
