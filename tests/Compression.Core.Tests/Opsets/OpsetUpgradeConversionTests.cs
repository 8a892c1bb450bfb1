using Compression.Core.Opsets;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;
using Compression.Core.Runtime;
using static Compression.Core.Tests.Support.Attributes;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Opsets;

/// <summary>
/// One test per conversion: a small model at an old opset is raised to 13 and must compute in ONNX Runtime what the
/// original computes (ONNX Runtime runs opsets 7 to 12 as they are), with the operator in its opset 13 form.
/// </summary>
public sealed class OpsetUpgradeConversionTests
{
    // The rewrites compute the same arithmetic, so the outputs agree to float rounding.
    private const double Rtol = 1e-5;
    private const double Atol = 1e-6;

    [Fact]
    public void Initializers_an_IR_3_model_lists_as_inputs_stay_constants_when_the_IR_version_is_raised()
    {
        // Before IR version 4 every initializer is also a graph input, held constant; from 4 on such an input is a default the
        // caller may replace, so the raised model lists only the real inputs.
        ModelProto original = new ModelBuilder(7, irVersion: 3)
            .Input("x", DataType.Float, 2, 4)
            .Initializer("w", [4, 3], SeededValues.Uniform(1, 12))
            .InitializerAsInput("w")
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", DataType.Float, 2, 3)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 0);

        Assert.True(upgraded.IrVersion >= 4);
        Assert.Equal(["x"], upgraded.Graph.Input.Select(i => i.Name));
        Assert.Single(upgraded.Graph.Initializer, t => t.Name == "w");
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(1, 2, 4)));
    }

    [Fact]
    public void Squeeze_axes_attribute_becomes_an_int64_input()
    {
        ModelProto original = new ModelBuilder(11, irVersion: 7)
            .Input("x", DataType.Float, 1, 3, 1, 4)
            .Node("Squeeze", ["x"], ["y"], Ints("axes", 0, 2))
            .Output("y", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 1);

        NodeProto squeeze = Assert.Single(upgraded.Graph.Node);
        Assert.Empty(squeeze.Attribute);
        Assert.Equal(2, squeeze.Input.Count);
        TensorProto axes = Assert.Single(upgraded.Graph.Initializer, t => t.Name == squeeze.Input[1]);
        Assert.Equal([0L, 2L], axes.ToArray<long>());
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(1, 1, 3, 1, 4)));
    }

    [Fact]
    public void Unsqueeze_and_ReduceSum_axes_become_inputs()
    {
        ModelProto original = new ModelBuilder(12, irVersion: 7)
            .Input("x", DataType.Float, 3, 4)
            .Node("Unsqueeze", ["x"], ["u"], Ints("axes", 0, 3))
            .Node("ReduceSum", ["u"], ["y"], Ints("axes", 1, -1), Int("keepdims", 0))
            .Output("y", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 2);

        Assert.All(upgraded.Graph.Node, n => Assert.Equal(2, n.Input.Count));
        Assert.DoesNotContain(upgraded.Graph.Node.SelectMany(n => n.Attribute), a => a.Name == "axes");
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(2, 3, 4)));
    }

    [Fact]
    public void ReduceSum_without_axes_still_reduces_everything()
    {
        ModelProto original = new ModelBuilder(11, irVersion: 7)
            .Input("x", DataType.Float, 2, 3)
            .Node("ReduceSum", ["x"], ["y"], Int("keepdims", 1))
            .Output("y", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 0);

        Assert.Single(Assert.Single(upgraded.Graph.Node).Input);
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(3, 2, 3)));
    }

    [Fact]
    public void Split_sizes_attribute_becomes_an_input()
    {
        ModelProto original = new ModelBuilder(11, irVersion: 7)
            .Input("x", DataType.Float, 6, 4)
            .Node("Split", ["x"], ["a", "b"], Int("axis", 0), Ints("split", 2, 4))
            .Output("a", DataType.Float)
            .Output("b", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 1);

        NodeProto split = Assert.Single(upgraded.Graph.Node);
        Assert.Equal(2, split.Input.Count);
        Assert.Equal("axis", Assert.Single(split.Attribute).Name);
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(4, 6, 4)));
    }

    [Theory]
    [InlineData("Softmax")]
    [InlineData("LogSoftmax")]
    [InlineData("Hardmax")]
    public void Normalization_over_a_middle_axis_flattens_and_reshapes(string opType)
    {
        ModelProto original = new ModelBuilder(11, irVersion: 7)
            .Input("x", DataType.Float, 2, 3, 4)
            .Node(opType, ["x"], ["y"], Int("axis", 1))
            .Output("y", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 1);

        Assert.Equal(["Shape", "Flatten", opType, "Reshape"], upgraded.Graph.Node.Select(n => n.OpType));
        NodeProto normalization = upgraded.Graph.Node[2];
        Assert.Equal(-1, Assert.Single(normalization.Attribute).I);
        Assert.Equal("y", upgraded.Graph.Node[3].Output[0]);
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(5, 2, 3, 4)));
    }

    [Fact]
    public void Softmax_with_the_default_axis_on_an_input_of_unknown_rank_keeps_the_old_meaning()
    {
        ModelProto original = new ModelBuilder(12, irVersion: 7)
            .Input("x", DataType.Float, null)
            .Node("Softmax", ["x"], ["y"])
            .Output("y", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 1);

        Assert.Equal(["Shape", "Flatten", "Softmax", "Reshape"], upgraded.Graph.Node.Select(n => n.OpType));
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(6, 2, 3, 4, 5)));
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(7, 3, 5)));
    }

    [Theory]
    [InlineData(2L, new long[] { 2, 3, 4 })]
    [InlineData(-1L, new long[] { 2, 3, 4 })]
    [InlineData(null, new long[] { 5, 7 })]
    public void Softmax_over_the_last_axis_stays_one_node_with_the_axis_written_out(long? axis, long[] shape)
    {
        var builder = new ModelBuilder(11, irVersion: 7).Input("x", DataType.Float, [.. shape]).Output("y", DataType.Float);
        builder = axis is long a ? builder.Node("Softmax", ["x"], ["y"], Int("axis", a)) : builder.Node("Softmax", ["x"], ["y"]);
        ModelProto original = builder.Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: axis is null ? 1 : 0);

        NodeProto softmax = Assert.Single(upgraded.Graph.Node);
        Assert.Equal(axis ?? 1, Assert.Single(softmax.Attribute, x => x.Name == "axis").I);
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(8, shape)));
    }

    [Fact]
    public void Nodes_inside_If_branches_are_converted_and_read_constants_of_the_main_graph()
    {
        GraphProto thenBranch = new GraphBuilder("then")
            .Node("Squeeze", ["x"], ["t"], Ints("axes", 0))
            .Output("t", DataType.Float)
            .BuildGraph();
        GraphProto elseBranch = new GraphBuilder("else")
            .Node("ReduceSum", ["x"], ["e"], Ints("axes", 0), Int("keepdims", 0))
            .Output("e", DataType.Float)
            .BuildGraph();
        ModelProto original = new ModelBuilder(11, irVersion: 7)
            .Input("cond", DataType.Bool)
            .Input("x", DataType.Float, 1, 3, 4)
            .Node("If", ["cond"], ["y"], Subgraph("then_branch", thenBranch), Subgraph("else_branch", elseBranch))
            .Output("y", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 2);

        NodeProto ifNode = Assert.Single(upgraded.Graph.Node);
        foreach (AttributeProto branch in ifNode.Attribute)
        {
            NodeProto inner = Assert.Single(branch.G.Node);
            Assert.Equal(2, inner.Input.Count);
            Assert.Empty(branch.G.Initializer);
            Assert.Contains(upgraded.Graph.Initializer, t => t.Name == inner.Input[1]);
        }

        foreach (bool cond in new[] { true, false })
        {
            AssertSameOutputs(original, upgraded, ("cond", OnnxTensor.FromArray([cond])), ("x", OrtHarness.RandomFloats(9, 1, 3, 4)));
        }
    }

    [Fact]
    public void Nodes_inside_a_Loop_body_get_their_rewrites_placed_inside_the_body()
    {
        GraphProto body = new GraphBuilder("body")
            .Input("i", DataType.Int64)
            .Input("keep_going", DataType.Bool)
            .Input("v", DataType.Float, null)
            .Node("Identity", ["keep_going"], ["keep_going_out"])
            .Node("Softmax", ["v"], ["v_out"], Int("axis", 0))
            .Output("keep_going_out", DataType.Bool)
            .Output("v_out", DataType.Float)
            .BuildGraph();
        ModelProto original = new ModelBuilder(11, irVersion: 7)
            .Input("x", DataType.Float, 3, 4)
            .Initializer("trips", [], new long[] { 2 })
            .Node("Loop", ["trips", "", "x"], ["y"], Subgraph("body", body))
            .Output("y", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 1);

        GraphProto newBody = Assert.Single(upgraded.Graph.Node).Attribute[0].G;
        Assert.Equal(["Identity", "Shape", "Flatten", "Softmax", "Reshape"], newBody.Node.Select(n => n.OpType));
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(10, 3, 4)));
    }

    [Fact]
    public void Dropout_ratio_attribute_becomes_an_input()
    {
        ModelProto original = new ModelBuilder(11, irVersion: 7)
            .Input("x", DataType.Float, 3, 4)
            .Node("Dropout", ["x"], ["y"], Float("ratio", 0.25f))
            .Output("y", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 1);

        NodeProto dropout = Assert.Single(upgraded.Graph.Node);
        Assert.Empty(dropout.Attribute);
        Assert.Equal(0.25f, Assert.Single(upgraded.Graph.Initializer).ToArray<float>()[0]);
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(11, 3, 4)));
    }

    [Theory]
    [InlineData(9)]
    [InlineData(11)]
    public void Dropout_mask_that_nothing_reads_is_dropped(long opset)
    {
        ModelProto original = new ModelBuilder(opset, irVersion: 7)
            .Input("x", DataType.Float, 3, 4)
            .Node("Dropout", ["x"], ["y", "mask"])
            .Node("Relu", ["y"], ["z"])
            .Output("z", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 1);

        Assert.Equal(["y"], upgraded.Graph.Node[0].Output);
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(12, 3, 4)));
    }

    [Theory]
    [InlineData("constant", 1.5f)]
    [InlineData("constant", 0f)]
    [InlineData("reflect", 0f)]
    [InlineData("edge", 0f)]
    public void Pad_attributes_become_inputs_of_the_data_type(string mode, float value)
    {
        // double data: the constant value must be a double, found from the graph input's type.
        ModelProto original = new ModelBuilder(10, irVersion: 7)
            .Input("x", DataType.Double, 1, 2, 3, 4)
            .Node("Pad", ["x"], ["y"], String("mode", mode), Ints("pads", 0, 0, 1, 2, 0, 0, 2, 1), Float("value", value))
            .Output("y", DataType.Double)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 1);

        NodeProto pad = Assert.Single(upgraded.Graph.Node);
        Assert.Equal("mode", Assert.Single(pad.Attribute).Name);
        if (value != 0)
        {
            TensorProto constant = Assert.Single(upgraded.Graph.Initializer, t => t.Name == pad.Input[2]);
            Assert.Equal((int)DataType.Double, constant.DataType);
        }
        else
        {
            Assert.Equal(2, pad.Input.Count);
        }

        var random = new Random(13);
        OnnxTensor<double> x = OnnxTensor.FromArray(Enumerable.Range(0, 24).Select(_ => random.NextDouble()).ToArray(), 1, 2, 3, 4);
        AssertSameOutputs(original, upgraded, ("x", x));
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(false, false)]
    public void Clip_bounds_become_inputs(bool hasMin, bool hasMax)
    {
        var attributes = new List<AttributeProto>();
        if (hasMin)
        {
            attributes.Add(Float("min", -0.5f));
        }

        if (hasMax)
        {
            attributes.Add(Float("max", 0.75f));
        }

        ModelProto original = new ModelBuilder(10, irVersion: 7)
            .Input("x", DataType.Float, 4, 5)
            .Node("Clip", ["x"], ["y"], [.. attributes])
            .Output("y", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: hasMin || hasMax ? 1 : 0);

        NodeProto clip = Assert.Single(upgraded.Graph.Node);
        Assert.Empty(clip.Attribute);
        Assert.Equal(hasMax ? 3 : hasMin ? 2 : 1, clip.Input.Count);
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(14, 4, 5)));
    }

    [Theory]
    [InlineData("nearest", new float[] { 1, 1, 2, 3 }, "floor")]
    [InlineData("nearest", new float[] { 1, 1, 0.6f, 0.6f }, "ceil")]
    [InlineData("nearest", new float[] { 1, 1, 0.5f, 0.8f }, "ceil")]
    [InlineData("linear", new float[] { 1, 1, 2, 1.5f }, null)]
    [InlineData("linear", new float[] { 1, 1, 0.6f, 0.5f }, null)]
    public void Resize_10_keeps_its_asymmetric_coordinates_and_rounding(string mode, float[] scales, string? nearestMode)
    {
        ModelProto original = new ModelBuilder(10, irVersion: 7)
            .Input("x", DataType.Float, 1, 1, 4, 5)
            .Initializer("scales", [4], scales)
            .Node("Resize", ["x", "scales"], ["y"], String("mode", mode))
            .Output("y", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 1);

        NodeProto resize = Assert.Single(upgraded.Graph.Node);
        Assert.Equal(["x", "", "scales"], resize.Input);
        Assert.Equal("asymmetric", resize.Attribute.Single(a => a.Name == "coordinate_transformation_mode").S.ToStringUtf8());
        Assert.Equal(nearestMode, resize.Attribute.SingleOrDefault(a => a.Name == "nearest_mode")?.S.ToStringUtf8());
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(15, 1, 1, 4, 5)));
    }

    [Theory]
    [InlineData(7, "nearest")]
    [InlineData(7, "linear")]
    [InlineData(8, "nearest")]
    [InlineData(9, "nearest")]
    [InlineData(9, "linear")]
    public void Upsample_becomes_Resize(long opset, string mode)
    {
        float[] scales = [1, 1, 2, 3];
        var builder = new ModelBuilder(opset, irVersion: 7).Input("x", DataType.Float, 1, 2, 3, 4).Output("y", DataType.Float);
        builder = opset < 9
            ? builder.Node("Upsample", ["x"], ["y"], String("mode", mode), Floats("scales", scales))
            : builder.Initializer("scales", [4], scales).Node("Upsample", ["x", "scales"], ["y"], String("mode", mode));
        ModelProto original = builder.Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 1);

        NodeProto resize = Assert.Single(upgraded.Graph.Node);
        Assert.Equal("Resize", resize.OpType);
        Assert.Equal(3, resize.Input.Count);
        Assert.Equal(string.Empty, resize.Input[1]);
        Assert.Equal(scales, upgraded.Graph.Initializer.Single(t => t.Name == resize.Input[2]).ToArray<float>());
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(16, 1, 2, 3, 4)));
    }

    [Fact]
    public void Resize_10_to_opset_11_gets_a_roi_constant()
    {
        ModelProto original = new ModelBuilder(10, irVersion: 7)
            .Input("x", DataType.Float, 1, 1, 2, 2)
            .Initializer("scales", [4], new float[] { 1, 1, 2, 2 })
            .Node("Resize", ["x", "scales"], ["y"])
            .Output("y", DataType.Float)
            .Build();

        ModelProto upgraded = original.Clone();
        Assert.NotNull(OpsetUpgrade.Apply(upgraded, 11));

        NodeProto resize = Assert.Single(upgraded.Graph.Node);
        Assert.NotEqual(string.Empty, resize.Input[1]);
        Assert.Empty(upgraded.Graph.Initializer.Single(t => t.Name == resize.Input[1]).ToArray<float>());
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(17, 1, 1, 2, 2)));
    }

    [Fact]
    public void Slice_and_TopK_attributes_become_int64_inputs()
    {
        ModelProto original = new ModelBuilder(9, irVersion: 7)
            .Input("x", DataType.Float, 4, 6)
            .Node("Slice", ["x"], ["s"], Ints("starts", 1, -5), Ints("ends", 1000, -1), Ints("axes", 0, 1))
            .Node("TopK", ["s"], ["values", "indices"], Int("k", 2), Int("axis", 1))
            .Output("values", DataType.Float)
            .Output("indices", DataType.Int64)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 2);

        Assert.Equal(4, upgraded.Graph.Node[0].Input.Count);
        Assert.Empty(upgraded.Graph.Node[0].Attribute);
        Assert.Equal([2L], upgraded.Graph.Initializer.Single(t => t.Name == upgraded.Graph.Node[1].Input[1]).ToArray<long>());
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(18, 4, 6)));
    }

    [Fact]
    public void BatchNormalization_spatial_1_is_dropped()
    {
        ModelProto original = new ModelBuilder(8, irVersion: 7)
            .Input("x", DataType.Float, 2, 3, 4, 4)
            .Initializer("scale", [3], new float[] { 1, 2, 0.5f })
            .Initializer("bias", [3], new float[] { 0, 0.1f, -1 })
            .Initializer("mean", [3], new float[] { 0.2f, -0.3f, 0 })
            .Initializer("var", [3], new float[] { 1, 0.5f, 2 })
            .Node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"], Int("spatial", 1), Float("epsilon", 1e-3f))
            .Output("y", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 1);

        Assert.Equal("epsilon", Assert.Single(Assert.Single(upgraded.Graph.Node).Attribute).Name);
        AssertSameOutputs(original, upgraded, ("x", OrtHarness.RandomFloats(19, 2, 3, 4, 4)));
    }

    [Fact]
    public void Scatter_becomes_ScatterElements()
    {
        ModelProto original = new ModelBuilder(10, irVersion: 7)
            .Input("data", DataType.Float, 3, 3)
            .Initializer("indices", [2, 3], new long[] { 1, 0, 2, 0, 2, 1 })
            .Initializer("updates", [2, 3], new float[] { 1, 2, 3, 4, 5, 6 })
            .Node("Scatter", ["data", "indices", "updates"], ["y"], Int("axis", 0))
            .Output("y", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 1);

        Assert.Equal("ScatterElements", Assert.Single(upgraded.Graph.Node).OpType);
        AssertSameOutputs(original, upgraded, ("data", OrtHarness.RandomFloats(20, 3, 3)));
    }

    [Fact]
    public void Opset_6_broadcasting_at_an_axis_unsqueezes_the_second_input()
    {
        // Opset 6 lines B [3, 4] up with A [2, 3, 4, 5] from axis 1; numpy would line it up from the end.
        ModelProto original = new ModelBuilder(6, irVersion: 7)
            .Input("a", DataType.Float, 2, 3, 4, 5)
            .Input("b", DataType.Float, 3, 4)
            .Node("Add", ["a", "b"], ["y"], Int("broadcast", 1), Int("axis", 1))
            .Output("y", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 1);

        Assert.Equal(["Unsqueeze", "Add"], upgraded.Graph.Node.Select(n => n.OpType));
        Assert.Equal([2L], upgraded.Graph.Initializer.Single(t => t.Name == upgraded.Graph.Node[0].Input[1]).ToArray<long>());
        Assert.Empty(upgraded.Graph.Node[1].Attribute);

        OnnxTensor<float> a = OrtHarness.RandomFloats(21, 2, 3, 4, 5);
        OnnxTensor<float> b = OrtHarness.RandomFloats(22, 3, 4);
        OnnxTensor y = Assert.Single(OrtHarness.Run(upgraded, ["a", "b"], [a, b]));
        float[] expected = new float[120];
        for (int i = 0; i < expected.Length; i++)
        {
            int channel = (i / 20) % 3;
            int row = (i / 5) % 4;
            expected[i] = a.Span[i] + b.Span[(channel * 4) + row];
        }

        Assert.Null(OrtHarness.Difference(OnnxTensor.FromArray(expected, 2, 3, 4, 5), y, Rtol, Atol));
    }

    [Fact]
    public void Opset_6_elementwise_attributes_are_dropped_where_numpy_broadcasting_means_the_same()
    {
        ModelProto original = new ModelBuilder(6, irVersion: 7)
            .Input("a", DataType.Float, 2, 3)
            .Input("b", DataType.Float, 3)
            .Node("Mul", ["a", "b"], ["m"], Int("broadcast", 1))
            .Node("Sub", ["m", "b"], ["s"], Int("broadcast", 1), Int("axis", 1))
            .Node("Gemm", ["s", "w", "b"], ["y"], Int("broadcast", 1), Int("transB", 1))
            .Initializer("w", [3, 3], new float[] { 1, 0, 0, 0, 2, 0, 1, 1, 1 })
            .Output("y", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 3);

        Assert.Equal(["Mul", "Sub", "Gemm"], upgraded.Graph.Node.Select(n => n.OpType));
        Assert.DoesNotContain(upgraded.Graph.Node.SelectMany(n => n.Attribute), x => x.Name is "broadcast" or "axis");
        OnnxTensor<float> a = OrtHarness.RandomFloats(23, 2, 3);
        OnnxTensor<float> b = OrtHarness.RandomFloats(24, 3);
        float[] y = Assert.Single(OrtHarness.Run(upgraded, ["a", "b"], [a, b])).As<float>().ToArray();
        // y = s w^T + b with s = a * b - b; w's last row is all ones.
        float[] s = [.. Enumerable.Range(0, 3).Select(k => (a.Span[k] * b.Span[k]) - b.Span[k])];
        Assert.Equal(s[0] + s[1] + s[2] + b.Span[2], y[2], 4);
    }

    [Fact]
    public void Experimental_Upsample_of_opset_6_becomes_Resize()
    {
        ModelProto original = new ModelBuilder(6, irVersion: 7)
            .Input("x", DataType.Float, 1, 1, 2, 2)
            .Node("Upsample", ["x"], ["y"], String("mode", "nearest"), Float("height_scale", 2), Float("width_scale", 3))
            .Output("y", DataType.Float)
            .Build();

        ModelProto upgraded = Upgrade(original, expectedConverted: 1);

        Assert.Equal("Resize", Assert.Single(upgraded.Graph.Node).OpType);
        OnnxTensor y = Assert.Single(OrtHarness.Run(upgraded, ["x"], [OnnxTensor.FromArray(new float[] { 1, 2, 3, 4 }, 1, 1, 2, 2)]));
        float[] expected =
        [
            1, 1, 1, 2, 2, 2,
            1, 1, 1, 2, 2, 2,
            3, 3, 3, 4, 4, 4,
            3, 3, 3, 4, 4, 4,
        ];
        Assert.Null(OrtHarness.Difference(OnnxTensor.FromArray(expected, 1, 1, 4, 6), y, Rtol, Atol));
    }

    [Fact]
    public void Opset_6_RNN_output_sequence_is_dropped()
    {
        // The same network written at opset 7 (without output_sequence) is what the upgraded opset 6 one must compute.
        ModelBuilder Network(long opset, params AttributeProto[] extra)
        {
            var random = new Random(25);
            float[] Weights(int count) => [.. Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() - 0.5))];
            return new ModelBuilder(opset, irVersion: 7)
                .Input("x", DataType.Float, 2, 1, 3)
                .Initializer("w", [1, 4, 3], Weights(12))
                .Initializer("r", [1, 4, 4], Weights(16))
                .Node("RNN", ["x", "w", "r"], ["y", "y_h"], [Int("hidden_size", 4), .. extra])
                .Output("y", DataType.Float)
                .Output("y_h", DataType.Float);
        }

        ModelProto upgraded = Upgrade(Network(6, Int("output_sequence", 1)).Build(), expectedConverted: 1);

        Assert.Equal("hidden_size", Assert.Single(Assert.Single(upgraded.Graph.Node).Attribute).Name);
        AssertSameOutputs(Network(7).Build(), upgraded, ("x", OrtHarness.RandomFloats(26, 2, 1, 3)));
    }

    [Fact]
    public void An_opset_1_model_of_unchanged_operators_is_raised_with_its_IR_version()
    {
        ModelProto original = new ModelBuilder(1, irVersion: 7)
            .Input("x", DataType.Float, 2, 3)
            .Node("Softsign", ["x"], ["s"])
            .Node("GlobalAveragePool", ["s"], ["y"])
            .Output("y", DataType.Float)
            .Build();
        original.IrVersion = 3;

        ModelProto upgraded = original.Clone();
        OpsetChange? change = OpsetUpgrade.Apply(upgraded, 13);

        Assert.Equal(new OpsetChange(1, 13, 0), change);
        Assert.Equal(7, upgraded.IrVersion);
        Assert.Equal(original.Graph, upgraded.Graph);
    }

    [Fact]
    public void A_model_at_the_target_or_newer_is_left_alone()
    {
        ModelProto model = new ModelBuilder(13, irVersion: 7).Input("x", DataType.Float, 2).Node("Relu", ["x"], ["y"]).Output("y", DataType.Float).Build();
        byte[] before = OnnxModelFile.ToBytes(model);

        Assert.Null(OpsetUpgrade.Apply(model, 13));
        Assert.Null(OpsetUpgrade.Apply(model, 11));
        Assert.Equal(before, OnnxModelFile.ToBytes(model));
        Assert.Throws<ArgumentOutOfRangeException>(() => OpsetUpgrade.Apply(model, OpsetUpgrade.MaxTargetVersion + 1));
    }

    internal static ModelProto Upgrade(ModelProto original, int expectedConverted)
    {
        ModelProto upgraded = original.Clone();
        OpsetChange? change = OpsetUpgrade.Apply(upgraded, 13);
        Assert.NotNull(change);
        Assert.Equal(OpsetVersions.DefaultDomainVersion(original), change.From);
        Assert.Equal(13, change.To);
        Assert.Equal(expectedConverted, change.ConvertedNodes);
        Assert.Equal(13, OpsetVersions.DefaultDomainVersion(upgraded));
        return upgraded;
    }

    private static void AssertSameOutputs(ModelProto original, ModelProto upgraded, params (string Name, OnnxTensor Value)[] inputs)
    {
        string[] names = inputs.Select(i => i.Name).ToArray();
        OnnxTensor[] values = inputs.Select(i => i.Value).ToArray();
        OnnxTensor[] before = OrtHarness.Run(original, names, values);
        OnnxTensor[] after = OrtHarness.Run(upgraded, names, values);
        Assert.Null(OrtHarness.Difference(before, after, Rtol, Atol));
    }
}
