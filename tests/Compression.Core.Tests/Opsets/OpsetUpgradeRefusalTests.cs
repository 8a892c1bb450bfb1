using Compression.Core.Opsets;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;
using static Compression.Core.Tests.Support.Attributes;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Opsets;

/// <summary>What the upgrade refuses and how it says so, and the properties of what it writes: deterministic,
/// unique names, shared constants.</summary>
public sealed class OpsetUpgradeRefusalTests
{
    private const string ConvertHint = "onnx.version_converter.convert_version(model, 13)";

    [Fact]
    public void Scan_before_opset_9_is_refused_with_the_fix_and_the_model_is_left_unchanged()
    {
        GraphProto body = new GraphBuilder("body")
            .Input("state", DataType.Float, null)
            .Input("item", DataType.Float, null)
            .Node("Add", ["state", "item"], ["next"])
            .Node("Identity", ["next"], ["out"])
            .Output("next", DataType.Float)
            .Output("out", DataType.Float)
            .BuildGraph();
        ModelProto model = new ModelBuilder(8, irVersion: 7)
            .Input("init", DataType.Float, 1, 2)
            .Input("xs", DataType.Float, 1, 3, 2)
            .Node("Squeeze", ["init"], ["squeezed"], Ints("axes", 0))
            .Node("Scan", ["", "init", "xs"], ["final", "ys"], Subgraph("body", body), Int("num_scan_inputs", 1))
            .Output("final", DataType.Float)
            .Output("ys", DataType.Float)
            .Output("squeezed", DataType.Float)
            .Build();
        byte[] before = OnnxModelFile.ToBytes(model);

        CompressionException error = Assert.Throws<CompressionException>(() => OpsetUpgrade.Apply(model, 13, "model.onnx"));

        Assert.Equal(DiagnosticCodes.OpsetUpgradeBlocked, error.Code);
        Assert.Equal("model.onnx", error.ModelPath);
        Assert.Contains("opset 8", error.Message, StringComparison.Ordinal);
        Assert.Contains("uses Scan,", error.Message, StringComparison.Ordinal);
        Assert.Contains("batch axis", error.Message, StringComparison.Ordinal);
        Assert.Contains(ConvertHint, error.Message, StringComparison.Ordinal);
        Assert.Contains("re-export", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Squeeze", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, OnnxModelFile.ToBytes(model));
    }

    [Fact]
    public void Every_refused_operator_is_named_once_in_order()
    {
        ModelProto model = new ModelBuilder(8, irVersion: 7)
            .Input("x", DataType.Float, 1, 3, 4, 4)
            .Node("ScaledTanh", ["x"], ["a"])
            .Node("ImageScaler", ["a"], ["b"], Floats("bias", 0, 0, 0), Float("scale", 2))
            .Node("ImageScaler", ["b"], ["c"], Floats("bias", 0, 0, 0), Float("scale", 2))
            .Node("Crop", ["c"], ["y"], Ints("border", 1, 1, 1, 1))
            .Output("y", DataType.Float)
            .Build();

        CompressionException error = Assert.Throws<CompressionException>(() => OpsetUpgrade.Apply(model, 13));

        Assert.Contains("uses Crop, ImageScaler, ScaledTanh,", error.Message, StringComparison.Ordinal);
        Assert.Contains("experimental operator that ONNX removed", error.Message, StringComparison.Ordinal);
        Assert.Contains(ConvertHint, error.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, ModelProto, string> RefusedModels() => new()
    {
        {
            "BatchNormalization", new ModelBuilder(8, irVersion: 7)
                .Input("x", DataType.Float, 2, 3, 4)
                .Node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], Int("spatial", 0))
                .Output("y", DataType.Float)
                .Build(),
            "spatial=0"
        },
        {
            "BatchNormalization", new ModelBuilder(6, irVersion: 7)
                .Input("x", DataType.Float, 2, 3, 4)
                .Node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], Int("is_test", 0))
                .Output("y", DataType.Float)
                .Build(),
            "is_test=0"
        },
        {
            "Reshape", new ModelBuilder(4, irVersion: 7)
                .Input("x", DataType.Float, 2, 3)
                .Node("Reshape", ["x"], ["y"], Ints("shape", 3, 2))
                .Output("y", DataType.Float)
                .Build(),
            "changed at opset 5"
        },
        {
            "Resize", new ModelBuilder(10, irVersion: 7)
                .Input("x", DataType.Float, 1, 1, 4, 4)
                .Input("scales", DataType.Float, 4)
                .Node("Resize", ["x", "scales"], ["y"])
                .Output("y", DataType.Float)
                .Build(),
            "not constant"
        },
        {
            "Add", new ModelBuilder(6, irVersion: 7)
                .Input("a", DataType.Float, null)
                .Input("b", DataType.Float, 3)
                .Node("Add", ["a", "b"], ["y"], Int("broadcast", 1), Int("axis", 1))
                .Output("y", DataType.Float)
                .Build(),
            "ranks of both inputs"
        },
        {
            "Dropout", new ModelBuilder(11, irVersion: 7)
                .Input("x", DataType.Float, 3)
                .Node("Dropout", ["x"], ["y", "mask"])
                .Output("y", DataType.Float)
                .Output("mask", DataType.Bool)
                .Build(),
            "mask output is read"
        },
        {
            "MeanVarianceNormalization", new ModelBuilder(7, irVersion: 7)
                .Input("x", DataType.Float, 1, 3, 2, 2)
                .Node("MeanVarianceNormalization", ["x"], ["y"], Int("across_channels", 1))
                .Output("y", DataType.Float)
                .Build(),
            "experimental before opset 9"
        },
    };

    [Theory]
    [MemberData(nameof(RefusedModels))]
    public void Conversions_that_cannot_keep_the_meaning_are_refused(string opType, ModelProto model, string reason)
    {
        byte[] before = OnnxModelFile.ToBytes(model);

        CompressionException error = Assert.Throws<CompressionException>(() => OpsetUpgrade.Apply(model, 13));

        Assert.Equal(DiagnosticCodes.OpsetUpgradeBlocked, error.Code);
        Assert.Contains($"uses {opType},", error.Message, StringComparison.Ordinal);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.Contains(ConvertHint, error.Message, StringComparison.Ordinal);
        Assert.Equal(before, OnnxModelFile.ToBytes(model));
    }

    public static TheoryData<string, ModelProto, string> RefusedTo21 => new()
    {
        {
            "GroupNormalization", new ModelBuilder(18, irVersion: 8)
                .Input("x", DataType.Float, 1, 4, 2, 2)
                .Initializer("scale", [2], [1f, 2f])
                .Initializer("bias", [2], [0f, 1f])
                .Node("GroupNormalization", ["x", "scale", "bias"], ["y"], Int("num_groups", 2))
                .Output("y", DataType.Float)
                .Build(),
            "per group at opset 18 and are per channel from opset 21"
        },
        {
            "BatchNormalization", new ModelBuilder(9, irVersion: 7)
                .Input("x", DataType.Float, 1, 2, 2, 2)
                .Initializer("scale", [2], [1f, 2f])
                .Initializer("bias", [2], [0f, 1f])
                .Initializer("mean", [2], [0f, 1f])
                .Initializer("var", [2], [1f, 1f])
                .Node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y", "running_mean"])
                .Output("y", DataType.Float)
                .Output("running_mean", DataType.Float)
                .Build(),
            "a statistics output is read"
        },
    };

    [Theory]
    [MemberData(nameof(RefusedTo21))]
    public void Conversions_to_opset_21_that_cannot_keep_the_meaning_are_refused(string opType, ModelProto model, string reason)
    {
        byte[] before = OnnxModelFile.ToBytes(model);

        CompressionException error = Assert.Throws<CompressionException>(() => OpsetUpgrade.Apply(model, 21));

        Assert.Equal(DiagnosticCodes.OpsetUpgradeBlocked, error.Code);
        Assert.Contains($"uses {opType},", error.Message, StringComparison.Ordinal);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.Contains("onnx.version_converter.convert_version(model, 21)", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, OnnxModelFile.ToBytes(model));
    }

    [Fact]
    public void Upgrading_the_same_model_twice_gives_the_same_bytes()
    {
        byte[] source = OnnxModelFile.ToBytes(ManyConversions());

        ModelProto first = OnnxModelFile.Parse(source);
        ModelProto second = OnnxModelFile.Parse(source);
        OpsetUpgrade.Apply(first, 13);
        OpsetUpgrade.Apply(second, 13);

        Assert.Equal(OnnxModelFile.ToBytes(first), OnnxModelFile.ToBytes(second));
        Assert.NotEqual(source, OnnxModelFile.ToBytes(first));
    }

    [Fact]
    public void New_names_clash_with_none_and_equal_constants_are_shared()
    {
        ModelProto model = ManyConversions();
        OpsetChange? change = OpsetUpgrade.Apply(model, 13);

        Assert.Equal(new OpsetChange(6, 13, 7), change);
        var values = model.Graph.Node.SelectMany(n => n.Output).Concat(model.Graph.Initializer.Select(t => t.Name))
            .Concat(model.Graph.Input.Select(i => i.Name).Where(n => model.Graph.Initializer.All(t => t.Name != n)))
            .ToList();
        Assert.Equal(values.Count, values.Distinct(StringComparer.Ordinal).Count());
        var nodeNames = model.Graph.Node.Select(n => n.Name).ToList();
        Assert.Equal(nodeNames.Count, nodeNames.Distinct(StringComparer.Ordinal).Count());

        // The graph already had a value called Squeeze_s_axes: the new constant took the next free name.
        Assert.Contains(model.Graph.Initializer, t => t.Name == "Squeeze_s_axes_1");

        // Both Squeezes remove axis 0 and share one constant; the Unsqueeze made for broadcasting adds axis 1.
        string[] axesInputs = model.Graph.Node.Where(n => n.OpType is "Squeeze" or "Unsqueeze").Select(n => n.Input[1]).ToArray();
        Assert.Equal(3, axesInputs.Length);
        Assert.Equal(2, axesInputs.Distinct(StringComparer.Ordinal).Count());
    }

    // An opset 6 model that needs rewrites at several versions, with a name that the first new constant would take.
    private static ModelProto ManyConversions() => new ModelBuilder(6, irVersion: 7)
        .Input("x", DataType.Float, 1, 2, 3)
        .Input("bias", DataType.Float, 2)
        .Initializer("Squeeze_s_axes", [1], new float[] { 1 })
        .Node("Add", ["x", "bias"], ["a"], Int("broadcast", 1), Int("axis", 1))
        .Node("Mul", ["a", "Squeeze_s_axes"], ["m"], Int("broadcast", 1))
        .Node("Squeeze", ["m"], ["s"], Ints("axes", 0))
        .Node("Softmax", ["s"], ["p"], Int("axis", 0))
        .Node("Slice", ["p"], ["sl"], Ints("starts", 0), Ints("ends", 1), Ints("axes", 1))
        .Node("Squeeze", ["a"], ["s2"], Ints("axes", 0))
        .Node("Clip", ["sl"], ["y"], Float("min", 0.1f), Float("max", 0.9f))
        .Output("y", DataType.Float)
        .Output("s2", DataType.Float)
        .Build();
}
