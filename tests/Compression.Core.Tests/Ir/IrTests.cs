using Compression.Core.Ir;
using Compression.Core.Runtime;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;
using Google.Protobuf;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Ir;

/// <summary>The graph IR: every backend-suite model survives a round trip byte for byte, and edits keep the graph whole.</summary>
public sealed class IrTests
{
    [Fact]
    public void Every_backend_suite_model_is_written_back_byte_for_byte_through_the_IR()
    {
        string[] models = Directory.GetFiles(AssemblyMetadata.OnnxTestDataDir, "model.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        Assert.True(models.Length >= 1000, $"only {models.Length} models; is libonnx-testdata installed completely?");
        var failures = new List<string>();
        int subgraphs = 0;
        foreach (string path in models)
        {
            byte[] original = File.ReadAllBytes(path);
            Model model = Model.Load(path);
            subgraphs += model.Graphs.Count() - 1;
            byte[] written = model.ToProto().ToByteArray();
            if (!original.AsSpan().SequenceEqual(written))
            {
                failures.Add($"{path}: first difference at byte {original.AsSpan().CommonPrefixLength(written)}");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {models.Length} models changed:\n{string.Join('\n', failures)}");
        Assert.True(subgraphs >= 20, $"only {subgraphs} subgraphs (If/Loop/Scan bodies) were read");
    }

    [Fact]
    public void Values_know_their_producer_and_uses_and_subgraph_reads_resolve_to_outer_values()
    {
        Model model = Model.FromProto(IfModel());
        Value weight = Assert.Single(model.Graph.Initializers);
        Node matMul = model.Graph.Nodes.Single(n => n.OpType == "MatMul");
        Node branchNode = model.Graphs.Skip(1).SelectMany(g => g.Nodes).Single(n => n.OpType == "MatMul");

        Assert.Null(weight.Producer);
        Assert.True(weight.IsInitializer);
        Assert.Equal([(matMul, 1), (branchNode, 1)], weight.Uses.Select(u => (u.Node, u.Index)));
        Assert.Same(matMul, matMul.Outputs[0]!.Producer);
        Assert.Same(model.Graph, branchNode.Inputs[1]!.Graph);
        Assert.Equal(3, model.Graphs.Count());
    }

    [Fact]
    public void Replacing_all_uses_reaches_subgraphs_and_graph_outputs_and_keeps_the_output_name()
    {
        Model model = Model.FromProto(IfModel());
        Graph graph = model.Graph;
        Value y = graph.Outputs.Single(o => o.Name == "y");
        Value scaled = graph.CreateValue("y_scaled");
        Value two = graph.AddInitializer(TensorValues.Create<float>("two", [], [2f]));
        Node mul = graph.CreateNode("Mul", string.Empty, "scale_y", [y, two], [scaled]);

        graph.InsertOnEdge(y, mul);

        Assert.Equal("y", graph.Outputs.Single(o => o.Producer == mul).Name);
        Assert.Equal([(mul, 0)], y.Uses.Select(u => (u.Node, u.Index)));
        byte[] edited = model.ToProto().ToByteArray();
        var x = Ort.RandomFloats(1, 2, 4);
        IReadOnlyDictionary<string, OnnxTensor> before = Ort.Run(IfModel().ToByteArray(), Inputs(x, condition: true));
        IReadOnlyDictionary<string, OnnxTensor> after = Ort.Run(edited, Inputs(x, condition: true));
        Assert.Equal(before["y"].As<float>().ToArray().Select(v => v * 2), after["y"].As<float>().ToArray());
        Assert.Equal(before["z"].As<float>().ToArray(), after["z"].As<float>().ToArray());
    }

    [Fact]
    public void A_node_replaced_by_another_hands_its_readers_over_and_leaves_the_graph()
    {
        Model model = Model.FromProto(IfModel());
        Graph graph = model.Graph;
        Node relu = graph.Nodes.Single(n => n.OpType == "Relu");
        Value output = graph.CreateValue("abs_out");
        Node abs = graph.CreateNode("Abs", string.Empty, "abs", [relu.Inputs[0]], [output]);

        graph.ReplaceNode(relu, abs);

        Assert.DoesNotContain(relu, graph.Nodes);
        Assert.Null(relu.Graph);
        Assert.Equal(1, graph.IndexOf(abs));
        Assert.All(relu.Inputs, v => Assert.DoesNotContain(v!.Uses, u => u.Node == relu));
        var x = Ort.RandomFloats(2, 2, 4);
        IReadOnlyDictionary<string, OnnxTensor> before = Ort.Run(IfModel().ToByteArray(), Inputs(x, condition: false));
        IReadOnlyDictionary<string, OnnxTensor> after = Ort.Run(model.ToProto().ToByteArray(), Inputs(x, condition: false));
        Assert.Equal(before["y"].As<float>().ToArray().Select(Math.Abs), after["y_relu"].As<float>().ToArray());
    }

    [Fact]
    public void A_node_whose_output_is_still_read_cannot_be_removed()
    {
        Model model = Model.FromProto(IfModel());
        Node matMul = model.Graph.Nodes.Single(n => n.OpType == "MatMul");

        var e = Assert.Throws<InvalidOperationException>(() => model.Graph.Remove(matMul));

        Assert.Contains("still used", e.Message, StringComparison.Ordinal);
        Assert.Contains(matMul, model.Graph.Nodes);
    }

    [Fact]
    public void An_initializer_becomes_a_computed_value_in_place()
    {
        ModelProto proto = IfModel();
        Model model = Model.FromProto(proto);
        Graph graph = model.Graph;
        Value weight = graph.Initializers[0];

        int position = graph.DetachInitializer(weight);
        Value source = graph.AddInitializer(TensorValues.Create<float>("w_source", [4, 3], new float[12]), position);
        graph.Insert(0, graph.CreateNode("Identity", string.Empty, "w_identity", [source], [weight]));
        ModelProto written = model.ToProto();

        Assert.Equal(["w_source"], written.Graph.Initializer.Select(t => t.Name));
        Assert.Equal("w", written.Graph.Node[0].Output[0]);
        Assert.Same(graph.Nodes[0], weight.Producer);
        Assert.False(weight.IsInitializer);
    }

    [Fact]
    public void External_data_is_read_only_when_a_pass_asks_for_the_tensor()
    {
        using var folder = new TemporaryFolder();
        ModelProto proto = IfModel();
        TensorProto weight = proto.Graph.Initializer[0];
        byte[] data = weight.RawData.ToByteArray();
        File.WriteAllBytes(folder.File("weights.bin"), data);
        weight.ClearRawData();
        weight.DataLocation = TensorProto.Types.DataLocation.External;
        weight.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
        OnnxModelFile.Save(proto, folder.File("model.onnx"));

        Model model = Model.Load(folder.File("model.onnx"));
        Value value = model.Graph.Initializers[0];
        Assert.Equal(TensorProto.Types.DataLocation.External, value.Initializer!.DataLocation);

        TensorProto loaded = value.LoadInitializer();

        Assert.Equal(data, loaded.RawData.ToByteArray());
        Assert.NotEqual(TensorProto.Types.DataLocation.External, loaded.DataLocation);
    }

    /// <summary>
    /// x [2, 4] · w [4, 4] → y (an output), Relu(y) → y_relu (an output), and If(cond) → z: the then branch computes x · w
    /// again, reading the main graph's initializer w; the else branch passes x through.
    /// </summary>
    private static ModelProto IfModel()
    {
        GraphProto thenBranch = new GraphBuilder("then")
            .Node("MatMul", ["x", "w"], ["then_out"])
            .Output("then_out", DataType.Float, 2, 4)
            .BuildGraph();
        GraphProto elseBranch = new GraphBuilder("else")
            .Node("Identity", ["x"], ["else_out"])
            .Output("else_out", DataType.Float, 2, 4)
            .BuildGraph();
        return new ModelBuilder(opset: 17)
            .Input("x", DataType.Float, 2, 4)
            .Input("cond", DataType.Bool)
            .Initializer("w", [4, 4], SeededValues.Uniform(3, 16))
            .Node("MatMul", ["x", "w"], ["y"])
            .Node("Relu", ["y"], ["y_relu"])
            .Node("If", ["cond"], ["z"], Attributes.Subgraph("then_branch", thenBranch), Attributes.Subgraph("else_branch", elseBranch))
            .Output("y", DataType.Float, 2, 4)
            .Output("z", DataType.Float, 2, 4)
            .Output("y_relu", DataType.Float, 2, 4)
            .Build();
    }

    private static Dictionary<string, OnnxTensor> Inputs(OnnxTensor<float> x, bool condition) => new()
    {
        ["x"] = x,
        ["cond"] = OnnxTensor.FromArray(new[] { condition }),
    };
}
