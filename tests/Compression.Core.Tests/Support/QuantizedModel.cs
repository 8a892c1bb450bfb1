using Compression.Core.Passes.Quantization;
using Compression.Onnx;
using Compression.Onnx.Protos;
using Compression.Core.Runtime;

namespace Compression.Core.Tests.Support;

/// <summary>A model before and after <see cref="WeightQuantizer"/>, both serialized as files would hold them.</summary>
internal sealed class QuantizedModel
{
    private QuantizedModel(ModelProto original, ModelProto quantized, WeightQuantizationResult result)
    {
        Original = original;
        Quantized = quantized;
        Result = result;
        OriginalBytes = OnnxModelFile.ToBytes(original);
        QuantizedBytes = OnnxModelFile.ToBytes(quantized);
    }

    public ModelProto Original { get; }

    public ModelProto Quantized { get; }

    public WeightQuantizationResult Result { get; }

    public byte[] OriginalBytes { get; }

    public byte[] QuantizedBytes { get; }

    /// <summary>Quantizes a copy of <paramref name="model"/>.</summary>
    public static QuantizedModel Of(ModelProto model, long weightThreshold = 1024)
    {
        ModelProto quantized = model.Clone();
        WeightQuantizationResult result = WeightQuantizer.Apply(quantized, weightThreshold);
        return new QuantizedModel(model, quantized, result);
    }

    /// <summary>The nodes of the quantized main graph with the given operator.</summary>
    public IReadOnlyList<NodeProto> Nodes(string opType) => Quantized.Graph.Node.Where(n => n.OpType == opType).ToList();

    /// <summary>The quantized model's initializer called <paramref name="name"/>, or null.</summary>
    public TensorProto? Initializer(string name) => Quantized.Graph.Initializer.SingleOrDefault(t => t.Name == name);

    /// <summary>
    /// Runs both models in ONNX Runtime on <paramref name="inputs"/> (the quantized one with the session entries the
    /// quantizer asks for) and checks that every float output points the same way (cosine above 0.999).
    /// </summary>
    public void AssertOutputsMatch(IReadOnlyDictionary<string, OnnxTensor> inputs, double minimumCosine = 0.999)
    {
        IReadOnlyDictionary<string, OnnxTensor> expected = Ort.Run(OriginalBytes, inputs);
        IReadOnlyDictionary<string, OnnxTensor> actual = Ort.Run(QuantizedBytes, inputs, Result.SessionConfig);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach ((string name, OnnxTensor tensor) in expected)
        {
            Assert.Equal(tensor.Shape.ToArray(), actual[name].Shape.ToArray());
            double cosine = Ort.Cosine(tensor.As<float>().Span, actual[name].As<float>().Span);
            Assert.True(cosine > minimumCosine, $"Output '{name}': cosine {cosine} between original and quantized is not above {minimumCosine}.");
        }
    }

    /// <summary>
    /// Checks the file size: each quantized weight of n elements and C channels trades 4n bytes of floats for n int8
    /// values, C float scales and C int8 zero points. The three new tensor names (the weight's name plus a suffix,
    /// each written twice) and the DequantizeLinear node cost a little more: at most 8 bytes per character of the
    /// weight's name and 160 bytes of suffixes, field tags and lengths.
    /// </summary>
    public void AssertShrankAsExpected()
    {
        long expectedSaving = 0;
        long largestOverhead = 0;
        foreach (QuantizedWeight weight in Result.Quantized)
        {
            long elements = weight.Shape.Aggregate(1L, (a, b) => a * b);
            long channels = weight.Axis < 0 ? 1 : weight.Shape[weight.Axis];
            expectedSaving += (3 * elements) - (5 * channels);
            largestOverhead += (8 * weight.Name.Length) + 160;
        }

        long saving = OriginalBytes.LongLength - QuantizedBytes.LongLength;
        Assert.InRange(saving, expectedSaving - largestOverhead, expectedSaving + (8 * Result.Quantized.Count));
    }
}
