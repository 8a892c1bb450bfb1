using Compression.Core.Evaluation;
using Compression.Core.Ir;
using Compression.Onnx;
using Compression.Onnx.Protos;
using AttributeType = Compression.Onnx.Protos.AttributeProto.Types.AttributeType;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Passes.Quantization;

/// <summary>
/// Static (QDQ) quantization of the activations around the nodes whose weights take <see cref="WeightForm.Static"/>: the
/// node's input and its output (or the output of the Relu that follows it, so that ONNX Runtime folds the Relu into the
/// integer kernel) pass through a QuantizeLinear/DequantizeLinear pair with a uint8 scale and zero point from the value's
/// range on the calibration samples, and a float bias becomes int32 at the input scale times the weight's. ONNX Runtime
/// fuses DequantizeLinear -> Conv/MatMul/Gemm -> QuantizeLinear into QLinearConv, QLinearMatMul and QGemm. A value is
/// quantized once, whichever nodes read it. Ranges are recorded on the original model, before any weight changes.
/// </summary>
internal sealed class StaticQuantizer
{
    private const int Levels = 255;

    private readonly IReadOnlyList<Node> nodes;
    private readonly Dictionary<string, (float Min, float Max)> ranges;

    private StaticQuantizer(IReadOnlyList<Node> nodes, Dictionary<string, (float Min, float Max)> ranges)
    {
        this.nodes = nodes;
        this.ranges = ranges;
    }

    /// <summary>True when <paramref name="node"/> can run as an integer kernel with its input and output quantized.</summary>
    public static bool Takes(Node node)
    {
        if (!node.IsDefaultDomain || node.Graph?.Parent is not null || node.OpType is not ("Conv" or "MatMul" or "Gemm"))
        {
            return false;
        }

        if (node.OpType == "Gemm" && (node.GetInt("transA", 0) != 0 || Float(node, "alpha") != 1f || Float(node, "beta") != 1f))
        {
            return false;
        }

        // The model's outputs (the final classifier's logits) stay float, and so does an input that is also an output.
        Value output = QuantizedOutput(node);
        return !output.IsGraphOutput && !node.Outputs[0]!.IsGraphOutput
            && node.Inputs[0] is { IsGraphOutput: false, IsInitializer: false };
    }

    /// <summary>Records the ranges of every value the plans' nodes read and write, on the calibration samples.</summary>
    /// <exception cref="CompressionException">There is no calibration data (OCB0003).</exception>
    public static StaticQuantizer? Calibrate(PassContext context, IReadOnlyList<WeightPlan> plans)
    {
        if (plans.Count == 0)
        {
            return null;
        }

        Node first = plans[0].Slots[0].Node;
        SampleSet samples = context.Calibration ?? throw new CompressionException(DiagnosticCodes.InvalidSetting, context.ModelPath,
            $"QuantizeMode={QuantizationSettings.Static} ({context.Settings.OriginOf(QuantizationSettings.QuantizeMode, first)}) needs calibration " +
            "data: the ranges of the activations come from running the model on samples. Set CalibrationData to a folder of input samples " +
            "(.npy or ONNX tensor files, as for ValidationData), or use QuantizeMode=dynamic.");
        List<Node> nodes = plans.SelectMany(p => p.Slots).Select(s => s.Node).Distinct().ToList();
        string[] values = nodes.SelectMany(n => new[] { n.Inputs[0]!.Name, QuantizedOutput(n).Name }).Distinct(StringComparer.Ordinal).ToArray();
        ModelProto original = context.Model.ToProto().Clone();
        var minMax = values.Select(v => new MinMaxCollector(v)).ToList();
        ActivationRecorder.Record(original, samples, minMax, context.ModelPath, context.Runner);
        var ranges = minMax.ToDictionary(c => c.ValueName, c => (c.Min, c.Max), StringComparer.Ordinal);
        string method = context.Settings.Get(QuantizationSettings.CalibrationMethod);
        if (method == QuantizationSettings.Percentile)
        {
            // A second run: histograms over each value's full range, then the range between the 0.01th and 99.99th percentiles.
            var histograms = minMax.Where(c => c.Max > c.Min).Select(c => new HistogramCollector(c.ValueName, c.Min, c.Max, 2048)).ToList();
            ActivationRecorder.Record(original, samples, histograms, context.ModelPath, context.Runner);
            foreach (HistogramCollector histogram in histograms)
            {
                ranges[histogram.ValueName] = Percentiles(histogram, 0.0001);
            }
        }
        else if (method == QuantizationSettings.Entropy)
        {
            // A second run: histograms of each value's magnitude (values that are never negative keep their one side).
            var histograms = minMax.Where(c => Math.Max(Math.Abs(c.Min), Math.Abs(c.Max)) > 0 && float.IsFinite(c.Max - c.Min))
                .Select(c => c.Min >= 0 ? new HistogramCollector(c.ValueName, 0, c.Max, EntropyCalibration.Bins)
                    : new HistogramCollector(c.ValueName, -Math.Max(-c.Min, c.Max), Math.Max(-c.Min, c.Max), 2 * EntropyCalibration.Bins))
                .ToList();
            ActivationRecorder.Record(original, samples, histograms, context.ModelPath, context.Runner);
            foreach (HistogramCollector histogram in histograms)
            {
                (float min, float max) = ranges[histogram.ValueName];
                float threshold = EntropyCalibration.Threshold(histogram);
                ranges[histogram.ValueName] = (Math.Max(min, -threshold), Math.Min(max, threshold));
            }
        }

        return new StaticQuantizer(nodes, ranges);
    }

    /// <summary>Inserts the QuantizeLinear/DequantizeLinear pairs and the int32 biases; the weights are already DequantizeLinear.</summary>
    public void Insert()
    {
        var quantized = new Dictionary<Value, (Value Restored, float Scale)>(ReferenceEqualityComparer.Instance);
        foreach (Node node in nodes)
        {
            Graph graph = node.Graph!;
            (Value input, float inputScale) = Quantize(graph, node.Inputs[0]!, quantized);
            node.SetInput(0, input);
            QuantizeBias(graph, node, inputScale);
        }

        foreach (Node node in nodes)
        {
            Quantize(node.Graph!, QuantizedOutput(node), quantized);
        }

    }

    /// <summary>The value whose Q/DQ pair follows the node: the output of a Relu that alone reads its output, else its output.</summary>
    private static Value QuantizedOutput(Node node)
    {
        Value output = node.Outputs[0]!;
        return output.Uses.Count == 1 && output.Uses[0].Node is { OpType: "Relu", IsDefaultDomain: true } relu && !output.IsGraphOutput
            ? relu.Outputs[0]!
            : output;
    }

    /// <summary>The value after a QuantizeLinear/DequantizeLinear pair on every edge out of <paramref name="value"/>, made once per value.</summary>
    private (Value Restored, float Scale) Quantize(Graph graph, Value value, Dictionary<Value, (Value Restored, float Scale)> quantized)
    {
        if (quantized.TryGetValue(value, out (Value, float) known))
        {
            return known;
        }

        (float min, float max) = ranges[value.Name];
        min = Math.Min(0f, float.IsFinite(min) ? min : 0f);
        max = Math.Max(0f, float.IsFinite(max) ? max : 0f);
        float scale = max > min ? (max - min) / Levels : 1f;
        byte zero = (byte)Math.Clamp(MathF.Round(-min / scale, MidpointRounding.ToEven), 0, Levels);
        Value scaleValue = graph.AddInitializer(TensorValues.Create<float>(value.Name + "_scale", [], [scale]));
        Value zeroValue = graph.AddInitializer(TensorValues.Create<byte>(value.Name + "_zero_point", [], [zero]));
        Value levels = graph.CreateValue(value.Name + "_quantized");
        Value restored = graph.CreateValue(value.Name + "_dequantized");
        graph.InsertOnEdge(value, graph.CreateNode("QuantizeLinear", string.Empty, value.Name + "_QuantizeLinear", [value, scaleValue, zeroValue], [levels]));
        graph.InsertOnEdge(levels, graph.CreateNode("DequantizeLinear", string.Empty, value.Name + "_DequantizeLinear", [levels, scaleValue, zeroValue], [restored]));
        // The pair's output is itself quantized already: a node that reads it (the next quantized node) reuses the pair.
        quantized[restored] = (restored, scale);
        return quantized[value] = (restored, scale);
    }

    /// <summary>A float bias (Conv's B, Gemm's C of N values) as int32 levels at scale input x weight, through DequantizeLinear.</summary>
    private static void QuantizeBias(Graph graph, Node node, float inputScale)
    {
        if (node.OpType == "MatMul" || node.Inputs.Count < 3 || node.Inputs[2] is not { IsInitializer: true } bias
            || bias.Initializer!.DataType != (int)DataType.Float || bias.Initializer.Dims.Count != 1)
        {
            return;
        }

        if (node.Inputs[1]?.Producer is not { OpType: "DequantizeLinear" } weight || weight.Inputs[1] is not { IsInitializer: true } weightScale)
        {
            return;
        }

        float[] weightScales = weightScale.LoadInitializer().View<float>().Span.ToArray();
        float[] values = bias.LoadInitializer().View<float>().Span.ToArray();
        if (weightScales.Length != 1 && weightScales.Length != values.Length)
        {
            return;
        }

        var scales = new float[values.Length];
        var levels = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            scales[i] = inputScale * weightScales[weightScales.Length == 1 ? 0 : i];
            double level = Math.Round(values[i] / (double)scales[i], MidpointRounding.ToEven);
            levels[i] = (int)Math.Clamp(level, int.MinValue, int.MaxValue);
        }

        Value levelsValue = graph.AddInitializer(TensorValues.Create<int>(bias.Name + "_quantized", [values.Length], levels));
        Value scaleValue = graph.AddInitializer(TensorValues.Create<float>(bias.Name + "_scale", [values.Length], scales));
        Value zeroValue = graph.AddInitializer(TensorValues.Create<int>(bias.Name + "_zero_point", [values.Length], new int[values.Length]));
        Value restored = graph.CreateValue(bias.Name + "_dequantized");
        graph.InsertBefore(node, graph.CreateNode("DequantizeLinear", string.Empty, bias.Name + "_DequantizeLinear", [levelsValue, scaleValue, zeroValue], [restored],
            [new AttributeProto { Name = "axis", Type = AttributeType.Int, I = 0 }]));
        node.SetInput(2, restored);
    }

    /// <summary>The values at the lower and upper <paramref name="tail"/> fractions of a histogram.</summary>
    private static (float Min, float Max) Percentiles(HistogramCollector histogram, double tail)
    {
        long total = histogram.Counts.Sum();
        double width = ((double)histogram.High - histogram.Low) / histogram.Counts.Length;
        long cut = (long)(total * tail);
        int low = 0;
        for (long seen = 0; low < histogram.Counts.Length - 1 && seen + histogram.Counts[low] <= cut; low++)
        {
            seen += histogram.Counts[low];
        }

        int high = histogram.Counts.Length - 1;
        for (long seen = 0; high > 0 && seen + histogram.Counts[high] <= cut; high--)
        {
            seen += histogram.Counts[high];
        }

        return ((float)(histogram.Low + (low * width)), (float)(histogram.Low + ((high + 1) * width)));
    }

    private static float Float(Node node, string name) => node.Attributes.FirstOrDefault(a => a.Name == name)?.F ?? 1f;
}
