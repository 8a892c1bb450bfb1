using Compression.Core.Opsets;
using Compression.Core.Passes.Quantization;
using Compression.Core.Tests.Support;
using Compression.Onnx.Protos;
using Compression.Core.Runtime;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Quantization;

/// <summary>How quantization fits into models: shared weights, old IR versions, subgraphs, opsets and names.</summary>
public sealed class ModelStructureTests
{
    [Fact]
    public void A_weight_shared_by_two_MatMuls_is_quantized_once()
    {
        ModelProto model = new ModelBuilder()
            .Input("x1", DataType.Float, "batch", 64)
            .Input("x2", DataType.Float, "batch", 64)
            .Initializer("shared", [64, 32], SeededValues.Uniform(1, 64 * 32))
            .Node("MatMul", ["x1", "shared"], ["y1"])
            .Node("MatMul", ["x2", "shared"], ["y2"])
            .Output("y1", DataType.Float, "batch", 32)
            .Output("y2", DataType.Float, "batch", 32)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        QuantizedWeight weight = Assert.Single(quantized.Result.Quantized);
        Assert.Equal(["MatMul"], weight.OpTypes);
        Assert.Single(quantized.Nodes("DequantizeLinear"));
        Assert.Equal(3, quantized.Quantized.Graph.Initializer.Count);
        Assert.All(quantized.Nodes("MatMul"), node => Assert.Equal("shared", node.Input[1]));
        quantized.AssertOutputsMatch(new Dictionary<string, OnnxTensor>
        {
            ["x1"] = Ort.RandomFloats(2, 3, 64),
            ["x2"] = Ort.RandomFloats(3, 3, 64),
        });
        quantized.AssertShrankAsExpected();
    }

    [Fact]
    public void An_IR3_model_raised_for_the_quantized_forms_keeps_only_its_real_inputs()
    {
        // IR version 3 lists every initializer among the graph inputs, held constant. Raised to an IR version where such an
        // input would be a default the caller may replace, the initializers leave the input list: the weight is quantized
        // and the small bias stays a float constant. Opset 7 is raised to 13 for per-axis DequantizeLinear.
        ModelProto model = new ModelBuilder(opset: 7, irVersion: 3)
            .Input("x", DataType.Float, "batch", 64)
            .Initializer("w", [64, 32], SeededValues.Uniform(4, 64 * 32))
            .Initializer("b", [32], SeededValues.Uniform(5, 32))
            .InitializerAsInput("w")
            .InitializerAsInput("b")
            .Node("MatMul", ["x", "w"], ["xw"])
            .Node("Add", ["xw", "b"], ["y"])
            .Output("y", DataType.Float, "batch", 32)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        Assert.Equal("w", Assert.Single(quantized.Result.Quantized).Name);
        Assert.Equal(["x"], quantized.Quantized.Graph.Input.Select(i => i.Name));
        Assert.Contains(quantized.Quantized.Graph.Initializer, t => t.Name == "b");
        Assert.Equal((7L, 13L), (quantized.Result.Opset!.From, quantized.Result.Opset.To));
        Assert.Equal(13, OpsetVersions.DefaultDomainVersion(quantized.Quantized));
        Assert.True(quantized.Quantized.IrVersion >= 7, $"IR version {quantized.Quantized.IrVersion} cannot hold opset 13.");
        quantized.AssertOutputsMatch(new Dictionary<string, OnnxTensor> { ["x"] = Ort.RandomFloats(6, 2, 64) });
        quantized.AssertShrankAsExpected();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_weight_also_read_inside_an_If_branch_is_quantized_and_the_branch_sees_its_dequantized_value(bool condition)
    {
        // The main graph and both branches read w: the branches see the main graph's value by name.
        GraphProto thenBranch = new GraphBuilder("then")
            .Node("MatMul", ["x", "w"], ["then_out"])
            .Output("then_out", DataType.Float, 2, 32)
            .BuildGraph();
        GraphProto elseBranch = new GraphBuilder("else")
            .Node("MatMul", ["x", "w"], ["else_matmul"])
            .Node("Neg", ["else_matmul"], ["else_out"])
            .Output("else_out", DataType.Float, 2, 32)
            .BuildGraph();
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, 2, 64)
            .Input("condition", DataType.Bool)
            .Initializer("w", [64, 32], SeededValues.Uniform(7, 64 * 32))
            .Node("MatMul", ["x", "w"], ["direct"])
            .Node("If", ["condition"], ["branch"], Attributes.Subgraph("then_branch", thenBranch), Attributes.Subgraph("else_branch", elseBranch))
            .Output("direct", DataType.Float, 2, 32)
            .Output("branch", DataType.Float, 2, 32)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        Assert.Equal("w", Assert.Single(quantized.Result.Quantized).Name);
        quantized.AssertOutputsMatch(new Dictionary<string, OnnxTensor>
        {
            ["x"] = Ort.RandomFloats(8, 2, 64),
            ["condition"] = new OnnxTensor<bool>(new[] { condition }, []),
        });
        quantized.AssertShrankAsExpected();
    }

    [Fact]
    public void A_weight_read_only_inside_an_If_branch_is_quantized_in_the_graph_that_holds_it_and_the_model_still_runs()
    {
        // The pass looks at MatMul, Gemm and Conv nodes of every graph: a weight that only a branch reads is quantized
        // too, its DequantizeLinear in the main graph, where the initializer lives and the branch finds it by name.
        GraphProto thenBranch = new GraphBuilder("then")
            .Node("MatMul", ["x", "branch_only"], ["then_out"])
            .Output("then_out", DataType.Float, 2, 32)
            .BuildGraph();
        GraphProto elseBranch = new GraphBuilder("else")
            .Node("MatMul", ["x", "main"], ["else_out"])
            .Output("else_out", DataType.Float, 2, 32)
            .BuildGraph();
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, 2, 64)
            .Input("condition", DataType.Bool)
            .Initializer("branch_only", [64, 32], SeededValues.Uniform(9, 64 * 32))
            .Initializer("main", [64, 32], SeededValues.Uniform(10, 64 * 32))
            .Node("MatMul", ["x", "main"], ["direct"])
            .Node("If", ["condition"], ["branch"], Attributes.Subgraph("then_branch", thenBranch), Attributes.Subgraph("else_branch", elseBranch))
            .Output("direct", DataType.Float, 2, 32)
            .Output("branch", DataType.Float, 2, 32)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        Assert.Equal(["branch_only", "main"], quantized.Result.Quantized.Select(w => w.Name));
        Assert.Null(quantized.Initializer("branch_only"));
        Assert.Equal((int)DataType.Int8, quantized.Initializer("branch_only_quantized")!.DataType);
        Assert.Contains(quantized.Nodes("DequantizeLinear"), n => n.Output[0] == "branch_only");
        foreach (bool condition in new[] { true, false })
        {
            quantized.AssertOutputsMatch(new Dictionary<string, OnnxTensor>
            {
                ["x"] = Ort.RandomFloats(11, 2, 64),
                ["condition"] = new OnnxTensor<bool>(new[] { condition }, []),
            });
        }
    }

    [Fact]
    public void An_opset_17_model_stays_at_opset_17()
    {
        ModelProto model = new ModelBuilder(opset: 17)
            .Input("x", DataType.Float, "batch", 64)
            .Initializer("gamma", [64], Enumerable.Repeat(1f, 64).ToArray())
            .Initializer("beta", [64], new float[64])
            .Initializer("w", [64, 32], SeededValues.Uniform(12, 64 * 32))
            .Node("LayerNormalization", ["x", "gamma", "beta"], ["normalized"], Attributes.Int("axis", -1))
            .Node("MatMul", ["normalized", "w"], ["y"])
            .Output("y", DataType.Float, "batch", 32)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        Assert.Single(quantized.Result.Quantized);
        Assert.Null(quantized.Result.Opset);
        Assert.Equal(17, OpsetVersions.DefaultDomainVersion(quantized.Quantized));
        Assert.Equal(model.IrVersion, quantized.Quantized.IrVersion);
        quantized.AssertOutputsMatch(new Dictionary<string, OnnxTensor> { ["x"] = Ort.RandomFloats(13, 3, 64) });
    }

    [Fact]
    public void An_opset_11_model_is_raised_to_opset_13()
    {
        ModelProto model = new ModelBuilder(opset: 11, irVersion: 6)
            .Input("x", DataType.Float, 1, 8, 6, 6)
            .Initializer("kernel", [16, 8, 3, 3], SeededValues.Uniform(14, 16 * 8 * 9))
            .Node("Conv", ["x", "kernel"], ["conv"], Attributes.Ints("kernel_shape", 3, 3))
            .Node("Relu", ["conv"], ["y"])
            .Output("y", DataType.Float, 1, 16, 4, 4)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        Assert.Equal((11L, 13L), (quantized.Result.Opset!.From, quantized.Result.Opset.To));
        Assert.Equal(13, OpsetVersions.DefaultDomainVersion(quantized.Quantized));
        quantized.AssertOutputsMatch(new Dictionary<string, OnnxTensor> { ["x"] = Ort.RandomFloats(15, 1, 8, 6, 6) });
        quantized.AssertShrankAsExpected();
    }

    [Fact]
    public void New_names_do_not_clash_with_names_already_in_the_model()
    {
        // The obvious new names are taken: a node output "w_quantized", an initializer "w_scale", and a node
        // output "w_zero_point" inside a subgraph.
        GraphProto thenBranch = new GraphBuilder("then")
            .Node("Identity", ["x"], ["w_zero_point"])
            .Output("w_zero_point", DataType.Float, 2, 64)
            .BuildGraph();
        GraphProto elseBranch = new GraphBuilder("else")
            .Node("Neg", ["x"], ["else_out"])
            .Output("else_out", DataType.Float, 2, 64)
            .BuildGraph();
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, 2, 64)
            .Input("condition", DataType.Bool)
            .Initializer("w", [64, 32], SeededValues.Uniform(16, 64 * 32))
            .Initializer("w_scale", [1], new[] { 0.5f })
            .Node("Mul", ["x", "w_scale"], ["w_quantized"])
            .Node("If", ["condition"], ["picked"], Attributes.Subgraph("then_branch", thenBranch), Attributes.Subgraph("else_branch", elseBranch))
            .Node("Add", ["w_quantized", "picked"], ["sum"])
            .Node("MatMul", ["sum", "w"], ["y"])
            .Output("y", DataType.Float, 2, 32)
            .Build();

        QuantizedModel quantized = QuantizedModel.Of(model);

        Assert.Single(quantized.Result.Quantized);
        GraphProto graph = quantized.Quantized.Graph;
        var produced = graph.Initializer.Select(t => t.Name)
            .Concat(graph.Input.Select(i => i.Name))
            .Concat(graph.Node.SelectMany(n => n.Output))
            .ToList();
        Assert.Equal(produced.Count, produced.Distinct(StringComparer.Ordinal).Count());
        NodeProto dequantize = Assert.Single(quantized.Nodes("DequantizeLinear"));
        Assert.DoesNotContain(dequantize.Input, name => name is "w_quantized" or "w_scale" or "w_zero_point");
        Assert.Equal(graph.Node.Count, graph.Node.Select(n => n.Name).Distinct(StringComparer.Ordinal).Count());
        quantized.AssertOutputsMatch(new Dictionary<string, OnnxTensor>
        {
            ["x"] = Ort.RandomFloats(17, 2, 64),
            ["condition"] = new OnnxTensor<bool>(new[] { true }, []),
        });
        quantized.AssertShrankAsExpected();
    }
}
