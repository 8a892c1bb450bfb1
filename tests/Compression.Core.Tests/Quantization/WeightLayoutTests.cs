using Compression.Core.Passes.Quantization;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;
using Compression.Core.Runtime;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Quantization;

/// <summary>Which axis of each operator's weight gets one scale per index, and that the result runs like the original.</summary>
public sealed class WeightLayoutTests
{
    [Fact]
    public void MatMul_weight_K_by_N_is_quantized_along_N()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", 64)
            .Initializer("w", [64, 48], SeededValues.Uniform(1, 64 * 48, 0.2f))
            .Initializer("b", [48], SeededValues.Uniform(2, 48))
            .Node("MatMul", ["x", "w"], ["xw"])
            .Node("Add", ["xw", "b"], ["y"])
            .Output("y", DataType.Float, "batch", 48)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        QuantizedWeight weight = Assert.Single(quantized.Result.Quantized);
        Assert.Equal(("w", 1), (weight.Name, weight.Axis));
        Assert.Equal([64L, 48L], weight.Shape);
        Assert.Equal(["MatMul"], weight.OpTypes);
        AssertDequantizeFeeds(quantized, "w", axis: 1, channels: 48);
        quantized.AssertOutputsMatch(new Dictionary<string, OnnxTensor> { ["x"] = Ort.RandomFloats(3, 5, 64) });
        quantized.AssertShrankAsExpected();
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    public void Gemm_weight_is_quantized_along_its_output_features(int transB, int expectedAxis)
    {
        long[] dims = transB == 0 ? [64, 40] : [40, 64];
        ModelProto model = new ModelBuilder()
            .Input("a", DataType.Float, "batch", 64)
            .Initializer("B", dims, SeededValues.Uniform(4, 64 * 40, 0.3f))
            .Initializer("C", [40], SeededValues.Uniform(5, 40))
            .Node("Gemm", ["a", "B", "C"], ["y"], Attributes.Int("transB", transB), Attributes.Float("alpha", 0.5f), Attributes.Float("beta", 2f))
            .Output("y", DataType.Float, "batch", 40)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        QuantizedWeight weight = Assert.Single(quantized.Result.Quantized);
        Assert.Equal(expectedAxis, weight.Axis);
        Assert.Equal(["Gemm"], weight.OpTypes);
        AssertDequantizeFeeds(quantized, "B", expectedAxis, channels: 40);
        quantized.AssertOutputsMatch(new Dictionary<string, OnnxTensor> { ["a"] = Ort.RandomFloats(6, 3, 64) });
        quantized.AssertShrankAsExpected();
    }

    [Fact]
    public void Conv_weight_M_C_kH_kW_is_quantized_along_M()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, 1, 8, 10, 10)
            .Initializer("kernel", [16, 8, 3, 3], SeededValues.Uniform(7, 16 * 8 * 9, 0.4f))
            .Initializer("bias", [16], SeededValues.Uniform(8, 16))
            .Node("Conv", ["x", "kernel", "bias"], ["y"], Attributes.Ints("kernel_shape", 3, 3), Attributes.Ints("pads", 1, 1, 1, 1))
            .Output("y", DataType.Float, 1, 16, 10, 10)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        QuantizedWeight weight = Assert.Single(quantized.Result.Quantized);
        Assert.Equal(("kernel", 0), (weight.Name, weight.Axis));
        AssertDequantizeFeeds(quantized, "kernel", axis: 0, channels: 16);
        quantized.AssertOutputsMatch(new Dictionary<string, OnnxTensor> { ["x"] = Ort.RandomFloats(9, 1, 8, 10, 10) });
        quantized.AssertShrankAsExpected();
    }

    [Fact]
    public void Batched_MatMul_weight_is_quantized_along_its_last_axis()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, 2, 5, 32)
            .Initializer("w", [2, 32, 24], SeededValues.Uniform(10, 2 * 32 * 24))
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", DataType.Float, 2, 5, 24)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        Assert.Equal(2, Assert.Single(quantized.Result.Quantized).Axis);
        quantized.AssertOutputsMatch(new Dictionary<string, OnnxTensor> { ["x"] = Ort.RandomFloats(11, 2, 5, 32) });
        quantized.AssertShrankAsExpected();
    }

    /// <summary>The weight's name is now the output of a DequantizeLinear node that reads an int8 tensor, one scale
    /// per channel and zero points of 0, along <paramref name="axis"/>; the float initializer is gone.</summary>
    internal static void AssertDequantizeFeeds(QuantizedModel quantized, string weightName, int axis, int channels)
    {
        Assert.Null(quantized.Initializer(weightName));
        NodeProto node = Assert.Single(quantized.Nodes("DequantizeLinear"), n => n.Output.Single() == weightName);
        Assert.Equal(axis, node.Attribute.Single(a => a.Name == "axis").I);

        TensorProto levels = quantized.Initializer(node.Input[0])!;
        TensorProto scales = quantized.Initializer(node.Input[1])!;
        TensorProto zeroPoints = quantized.Initializer(node.Input[2])!;
        TensorProto original = quantized.Original.Graph.Initializer.Single(t => t.Name == weightName);
        Assert.Equal((int)DataType.Int8, levels.DataType);
        Assert.Equal(original.Dims, levels.Dims);
        Assert.Equal(new long[] { channels }, scales.Dims.ToArray());
        Assert.Equal((int)DataType.Float, scales.DataType);
        Assert.Equal((int)DataType.Int8, zeroPoints.DataType);
        Assert.All(zeroPoints.ToArray<sbyte>(), z => Assert.Equal(0, z));

        // The stored levels are the original values rounded to the nearest level of their channel's scale, and no channel's
        // squared error exceeds that of naive round-to-nearest from the channel's largest magnitude (the scale search
        // starts there and keeps a smaller scale only where it lowers the error).
        float[] values = original.ToArray<float>();
        sbyte[] stored = levels.ToArray<sbyte>();
        float[] storedScales = scales.ToArray<float>();
        var naiveLevels = new sbyte[values.Length];
        var naiveScales = new float[channels];
        Int8Quantization.QuantizePerChannel(values, original.Dims.ToArray(), axis, naiveLevels, naiveScales);
        var error = new double[channels];
        var naiveError = new double[channels];
        long inner = original.Dims.Skip(axis + 1).Aggregate(1L, (a, b) => a * b);
        for (int i = 0; i < values.Length; i++)
        {
            int channel = (int)(i / inner % channels);
            float scale = storedScales[channel];
            Assert.Equal(Math.Clamp(MathF.Round(values[i] / scale, MidpointRounding.ToEven), -128, 127), stored[i]);
            error[channel] += Math.Pow(values[i] - (stored[i] * scale), 2);
            naiveError[channel] += Math.Pow(values[i] - (naiveLevels[i] * naiveScales[channel]), 2);
        }

        for (int channel = 0; channel < channels; channel++)
        {
            Assert.True(error[channel] <= naiveError[channel] * (1 + 1e-6), $"channel {channel}: squared error {error[channel]} above naive {naiveError[channel]}");
        }

        // The node comes before every node that reads the weight.
        int position = quantized.Quantized.Graph.Node.IndexOf(node);
        int firstReader = quantized.Quantized.Graph.Node.ToList().FindIndex(n => n.Input.Contains(weightName));
        Assert.True(position < firstReader, "DequantizeLinear must come before the nodes that read its output.");
    }
}
