using Compression.Core.Passes.Quantization;
using Compression.Core.Tests.Support;
using Compression.Onnx.Protos;
using Compression.Core.Runtime;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Quantization;

/// <summary>Weights the pass leaves in float, each reported with its reason, and models that still run afterwards.</summary>
public sealed class SkippedWeightTests
{
    [Fact]
    public void A_weight_below_the_threshold_stays_float_with_its_element_count_as_reason()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", 16)
            .Initializer("small", [16, 16], SeededValues.Uniform(1, 256))
            .Node("MatMul", ["x", "small"], ["y"])
            .Output("y", DataType.Float, "batch", 16)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model, weightThreshold: 257);

        Assert.Empty(quantized.Result.Quantized);
        SkippedWeight skipped = Assert.Single(quantized.Result.Skipped);
        Assert.Equal(("small", "MatMul"), (skipped.Name, skipped.OpType));
        Assert.Contains("256 elements", skipped.Reason, StringComparison.Ordinal);
        Assert.Contains("257", skipped.Reason, StringComparison.Ordinal);
        Assert.Equal(quantized.OriginalBytes, quantized.QuantizedBytes);
        Assert.Empty(quantized.Result.SessionConfig);
    }

    [Fact]
    public void A_weight_that_is_also_a_graph_input_is_a_default_the_caller_may_replace_and_stays_float()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", 64)
            .Initializer("w", [64, 32], SeededValues.Uniform(2, 64 * 32))
            .InitializerAsInput("w")
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", DataType.Float, "batch", 32)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        Assert.Empty(quantized.Result.Quantized);
        SkippedWeight skipped = Assert.Single(quantized.Result.Skipped);
        Assert.Equal(("w", "MatMul"), (skipped.Name, skipped.OpType));
        Assert.Contains("graph input", skipped.Reason, StringComparison.Ordinal);
        Assert.Equal(quantized.OriginalBytes, quantized.QuantizedBytes);
    }

    [Fact]
    public void Before_IR_version_4_an_initializer_listed_as_input_is_a_weight_and_quantized()
    {
        ModelProto model = new ModelBuilder(opset: 7, irVersion: 3)
            .Input("x", DataType.Float, "batch", 64)
            .Initializer("w", [64, 32], SeededValues.Uniform(2, 64 * 32))
            .InitializerAsInput("w")
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", DataType.Float, "batch", 32)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        Assert.Single(quantized.Result.Quantized);
    }

    [Fact]
    public void A_weight_of_exactly_the_threshold_is_quantized()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", 16)
            .Initializer("w", [16, 16], SeededValues.Uniform(1, 256))
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", DataType.Float, "batch", 16)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model, weightThreshold: 256);

        Assert.Single(quantized.Result.Quantized);
        quantized.AssertOutputsMatch(new Dictionary<string, OnnxTensor> { ["x"] = Ort.RandomFloats(2, 3, 16) });
        quantized.AssertShrankAsExpected();
    }

    [Fact]
    public void A_double_weight_stays_double_with_its_element_type_as_reason()
    {
        double[] weights = SeededValues.Uniform(3, 64 * 32).Select(v => (double)v).ToArray();
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Double, "batch", 64)
            .Initializer("w", [64, 32], weights)
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", DataType.Double, "batch", 32)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        Assert.Empty(quantized.Result.Quantized);
        SkippedWeight skipped = Assert.Single(quantized.Result.Skipped);
        Assert.Equal("w", skipped.Name);
        Assert.Contains("not float", skipped.Reason, StringComparison.Ordinal);
        Assert.Equal(quantized.OriginalBytes, quantized.QuantizedBytes);
    }

    [Fact]
    public void A_weight_computed_at_run_time_is_skipped_and_the_rest_still_quantized()
    {
        // y = x · transpose(wT) · w2: the first MatMul's weight is a node output, the second's an initializer.
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", 64)
            .Initializer("wT", [64, 64], SeededValues.Uniform(4, 64 * 64, 0.2f))
            .Initializer("w2", [64, 32], SeededValues.Uniform(5, 64 * 32, 0.2f))
            .Node("Transpose", ["wT"], ["w1"], Attributes.Ints("perm", 1, 0))
            .Node("MatMul", ["x", "w1"], ["h"])
            .Node("MatMul", ["h", "w2"], ["y"])
            .Output("y", DataType.Float, "batch", 32)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        Assert.Equal("w2", Assert.Single(quantized.Result.Quantized).Name);
        SkippedWeight skipped = Assert.Single(quantized.Result.Skipped, s => s.Name == "w1");
        Assert.Equal("MatMul", skipped.OpType);
        Assert.Contains("computed at run time", skipped.Reason, StringComparison.Ordinal);
        // The float tensor it is computed from is listed too, with its own reason.
        SkippedWeight source = Assert.Single(quantized.Result.Skipped, s => s.Name == "wT");
        Assert.Equal(("Transpose", "read by Transpose, which has no quantized form"), (source.OpType, source.Reason));
        Assert.NotNull(quantized.Initializer("wT"));
        quantized.AssertOutputsMatch(new Dictionary<string, OnnxTensor> { ["x"] = Ort.RandomFloats(6, 4, 64) });
        quantized.AssertShrankAsExpected();
    }

    [Fact]
    public void A_weight_read_by_Gemm_transB_and_by_MatMul_gets_one_scale_because_their_channel_axes_differ()
    {
        // Gemm with transB=1 reads w as [N, K] (channels on axis 0), MatMul as [K, N] (channels on axis 1): no per-channel
        // scale fits both, so the weight gets one scale for the whole tensor and both nodes read it unchanged.
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", 48)
            .Initializer("w", [48, 48], SeededValues.Uniform(7, 48 * 48))
            .Node("Gemm", ["x", "w"], ["g"], Attributes.Int("transB", 1))
            .Node("MatMul", ["x", "w"], ["m"])
            .Node("Add", ["g", "m"], ["y"])
            .Output("y", DataType.Float, "batch", 48)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        QuantizedWeight weight = Assert.Single(quantized.Result.Quantized);
        Assert.Equal(("w", -1), (weight.Name, weight.Axis));
        Assert.Equal(["Gemm", "MatMul"], weight.OpTypes);
        NodeProto dequantize = Assert.Single(quantized.Nodes("DequantizeLinear"));
        Assert.Empty(dequantize.Attribute);
        quantized.AssertOutputsMatch(new Dictionary<string, OnnxTensor> { ["x"] = Ort.RandomFloats(8, 4, 48) });
    }

    [Fact]
    public void A_weight_holding_NaN_stays_float()
    {
        float[] weights = SeededValues.Uniform(8, 64 * 32);
        weights[100] = float.NaN;
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", 64)
            .Initializer("w", [64, 32], weights)
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", DataType.Float, "batch", 32)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        Assert.Empty(quantized.Result.Quantized);
        Assert.Contains("NaN", Assert.Single(quantized.Result.Skipped).Reason, StringComparison.Ordinal);
    }
}
