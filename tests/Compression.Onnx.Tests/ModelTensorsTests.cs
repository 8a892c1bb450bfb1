using Compression.Onnx.Protos;

namespace Compression.Onnx.Tests;

public sealed class ModelTensorsTests
{
    [Fact]
    public void Every_place_a_model_can_hold_a_tensor_is_searched_once()
    {
        var loopBody = new GraphProto { Name = "body", Initializer = { Tensor("loop_body_initializer") } };
        var nestedThen = new GraphProto { Name = "nested", Initializer = { Tensor("nested_then_initializer") } };
        var thenBranch = new GraphProto
        {
            Name = "then",
            Initializer = { Tensor("then_initializer") },
            Node = { Node("If", new AttributeProto { Name = "then_branch", G = nestedThen }) },
        };
        var graph = new GraphProto
        {
            Name = "main",
            Initializer = { Tensor("initializer") },
            SparseInitializer = { Sparse("sparse_initializer") },
            Node =
            {
                Node("Constant", new AttributeProto { Name = "value", T = Tensor("attribute_t") }),
                Node("Custom", new AttributeProto { Name = "many", Tensors = { Tensor("attribute_tensors_0"), Tensor("attribute_tensors_1") } }),
                Node("Constant", new AttributeProto { Name = "sparse_value", SparseTensor = Sparse("attribute_sparse_tensor") }),
                Node("Custom", new AttributeProto { Name = "sparse_many", SparseTensors = { Sparse("attribute_sparse_tensors") } }),
                Node("If", new AttributeProto { Name = "then_branch", G = thenBranch }),
                Node("Scan", new AttributeProto { Name = "bodies", Graphs = { loopBody } }),
            },
        };
        var model = TestModels.Model(graph);
        model.TrainingInfo.Add(new TrainingInfoProto
        {
            Initialization = new GraphProto { Initializer = { Tensor("training_initialization") } },
            Algorithm = new GraphProto { Initializer = { Tensor("training_algorithm") } },
        });
        model.Functions.Add(new FunctionProto
        {
            Name = "f",
            AttributeProto = { new AttributeProto { Name = "default", T = Tensor("function_attribute_default") } },
            Node =
            {
                Node("Constant", new AttributeProto { Name = "value", T = Tensor("function_node_t") }),
                Node("If", new AttributeProto { Name = "then_branch", G = new GraphProto { Initializer = { Tensor("function_subgraph_initializer") } } }),
            },
        });

        var found = ModelTensors.Enumerate(model);

        var names = new List<string>();
        foreach (var tensor in found)
        {
            names.Add(tensor.Name);
        }

        names.Sort(StringComparer.Ordinal);
        string[] expected =
        [
            "attribute_sparse_tensor_indices", "attribute_sparse_tensor_values",
            "attribute_sparse_tensors_indices", "attribute_sparse_tensors_values",
            "attribute_t", "attribute_tensors_0", "attribute_tensors_1",
            "function_attribute_default", "function_node_t", "function_subgraph_initializer",
            "initializer", "loop_body_initializer", "nested_then_initializer",
            "sparse_initializer_indices", "sparse_initializer_values",
            "then_initializer", "training_algorithm", "training_initialization",
        ];
        Assert.Equal(expected, names);
        Assert.Equal("initializer", found[0].Name);
        Assert.Same(graph.Initializer[0], found[0]);
    }

    [Fact]
    public void A_graph_is_searched_with_its_subgraphs()
    {
        var graph = new GraphProto
        {
            Initializer = { Tensor("outer") },
            Node = { Node("If", new AttributeProto { Name = "then_branch", G = new GraphProto { Initializer = { Tensor("inner") } } }) },
        };

        var found = ModelTensors.Enumerate(graph);

        Assert.Equal(["outer", "inner"], found.Select(tensor => tensor.Name));
    }

    [Fact]
    public void A_test_suite_model_yields_the_tensors_of_its_if_branches()
    {
        // test_if_seq is one If node whose else_branch and then_branch each start with a Constant of 5 floats.
        // With Python: numpy_helper.to_array(model.graph.node[0].attribute[k].g.node[0].attribute[0].t).
        var model = OnnxModelFile.Load(Path.Combine(OnnxTestData.Root, "node", "test_if_seq", "model.onnx"));

        var found = ModelTensors.Enumerate(model);

        Assert.Empty(model.Graph.Initializer);
        Assert.Equal(2, found.Count);
        var values = found.Select(tensor => tensor.ToArray<float>()).ToList();
        Assert.Contains([5f, 4f, 3f, 2f, 1f], values);
        Assert.Contains([1f, 2f, 3f, 4f, 5f], values);
    }

    private static TensorProto Tensor(string name) => TensorValues.Create<float>(name, [1], [1f]);

    private static SparseTensorProto Sparse(string name) => new()
    {
        Values = Tensor(name + "_values"),
        Indices = TensorValues.Create<long>(name + "_indices", [1], [0]),
        Dims = { 4 },
    };

    private static NodeProto Node(string opType, AttributeProto attribute) => new() { OpType = opType, Attribute = { attribute } };
}
