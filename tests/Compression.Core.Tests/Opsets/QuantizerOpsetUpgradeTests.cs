using Compression.Core.Opsets;
using Compression.Core.Passes.Quantization;
using Compression.Core.Tests.Support;
using Compression.Onnx.Protos;
using Compression.Core.Runtime;
using static Compression.Core.Tests.Support.Attributes;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Opsets;

/// <summary>The weight quantizer raises an opset 11 model to 13 on its way, and the result still runs like the original.</summary>
public sealed class QuantizerOpsetUpgradeTests
{
    [Fact]
    public void An_opset_11_model_with_Squeeze_and_Softmax_is_quantized_and_runs_close_to_the_original()
    {
        var random = new Random(42);
        float[] weight = Enumerable.Range(0, 64 * 32).Select(_ => (float)((random.NextDouble() * 0.5) - 0.25)).ToArray();
        ModelProto original = new ModelBuilder(11, irVersion: 7)
            .Input("x", DataType.Float, 2, 4, 64)
            .Initializer("w", [64, 32], weight)
            .Node("MatMul", ["x", "w"], ["h"])
            .Node("Unsqueeze", ["h"], ["u"], Ints("axes", 1))
            .Node("Squeeze", ["u"], ["s"], Ints("axes", 1))
            .Node("Softmax", ["s"], ["y"], Int("axis", 1))
            .Output("y", DataType.Float)
            .Output("h", DataType.Float)
            .Build();
        ModelProto model = original.Clone();

        WeightQuantizationResult result = WeightQuantizer.Apply(model, weightThreshold: 1024);

        Assert.Equal("w", Assert.Single(result.Quantized).Name);
        Assert.Equal(new OpsetChange(11, 13, 3), result.Opset);
        Assert.Equal(13, OpsetVersions.DefaultDomainVersion(model));
        Assert.Equal(
            ["DequantizeLinear", "MatMul", "Unsqueeze", "Squeeze", "Shape", "Flatten", "Softmax", "Reshape"],
            model.Graph.Node.Select(n => n.OpType));

        OnnxTensor<float> x = OrtHarness.RandomFloats(7, 2, 4, 64);
        OnnxTensor[] expected = OrtHarness.Run(original, ["x"], [x]);
        OnnxTensor[] actual = OrtHarness.Run(model, ["x"], [x], result.SessionConfig);
        for (int k = 0; k < expected.Length; k++)
        {
            Assert.Equal(expected[k].Shape.ToArray(), actual[k].Shape.ToArray());
            double cosine = OrtHarness.Cosine(expected[k], actual[k]);
            Assert.True(cosine > 0.999, $"output {k}: cosine {cosine}");
        }
    }
}
