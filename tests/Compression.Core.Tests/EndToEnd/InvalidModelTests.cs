using Compression.Core.Evaluation;
using Compression.Core.Passes.Quantization;
using Compression.Onnx;
using Compression.Onnx.Protos;
using Google.Protobuf;
using AttributeType = Compression.Onnx.Protos.AttributeProto.Types.AttributeType;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.EndToEnd;

/// <summary>
/// The digits model, broken one way at a time, fails at load with one coded error (OCB0002) that names what is wrong, and
/// writes nothing. Validation is on where ONNX Runtime would crash on the model (an initializer of element type -1, a
/// sparse index outside the shape, a recursive function): the check must stop the model before ONNX Runtime sees it.
/// </summary>
public sealed class InvalidModelTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void An_initializer_of_an_unknown_element_type_is_refused_before_ONNX_Runtime_loads_it()
    {
        ModelProto model = Digits();
        Weight(model, "fc1.weight").DataType = -1;

        string message = AssertInvalid(model, validate: true);

        Assert.Contains("Tensor 'fc1.weight'", message, StringComparison.Ordinal);
        Assert.Contains("element type -1, which is no ONNX element type", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Raw_data_shorter_than_the_dims_call_for_names_the_tensor_and_both_lengths()
    {
        ModelProto model = Digits();
        TensorProto weight = Weight(model, "fc2.weight");
        weight.RawData = ByteString.CopyFrom(weight.RawData.Span[..^4]);

        string message = AssertInvalid(model, validate: false);

        Assert.Contains("Tensor 'fc2.weight' (FLOAT, shape [256, 256])", message, StringComparison.Ordinal);
        Assert.Contains("65536 elements of 32 bits (262144 bytes) in raw_data, but raw_data has 262140 bytes", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Float_data_of_the_wrong_count_names_the_tensor()
    {
        ModelProto model = Digits();
        TensorProto bias = Weight(model, "fc1.bias");
        bias.ClearRawData();
        bias.FloatData.AddRange(new float[255]);

        string message = AssertInvalid(model, validate: false);

        Assert.Contains("Tensor 'fc1.bias' (FLOAT, shape [256]) should hold 256 elements in float_data (it has no raw_data), but float_data has 255", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1L, "A tensor dimension is -1")]
    [InlineData(long.MaxValue, "multiply to more elements than a 64-bit count can hold")]
    public void Negative_dims_and_dims_whose_product_overflows_name_the_tensor(long dim, string expected)
    {
        ModelProto model = Digits();
        Weight(model, "fc1.weight").Dims[0] = dim;

        string message = AssertInvalid(model, validate: false);

        Assert.Contains("Tensor 'fc1.weight'", message, StringComparison.Ordinal);
        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(19L, null)]
    [InlineData(20L, "linear index 20 (entry 1), outside the shape")]
    [InlineData(-1L, "linear index -1 (entry 1), outside the shape")]
    public void A_sparse_initializer_with_an_index_outside_its_shape_is_refused_before_ONNX_Runtime_loads_it(long index, string? expected)
    {
        ModelProto model = Digits();
        var sparse = new SparseTensorProto
        {
            Values = TensorValues.Create<float>("extra", [2], [1f, 2f]),
            Indices = TensorValues.Create<long>(string.Empty, [2], [3, index]),
        };
        sparse.Dims.AddRange([4, 5]);
        model.Graph.SparseInitializer.Add(sparse);

        if (expected is null)
        {
            // Inside [4, 5]: a valid (unused) sparse initializer, which ONNX Runtime loads.
            Compress(model, validate: true);
            return;
        }

        string message = AssertInvalid(model, validate: true);
        Assert.Contains($"Sparse tensor 'extra' of dense shape [4, 5] has {expected}", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_Gemm_that_reads_a_1_D_initializer_as_its_matrix_is_refused_naming_both()
    {
        // The digits model's first MatMul made a Gemm whose B is the 1-D bias: no Gemm takes that, and the passes must not see it.
        ModelProto model = Digits();
        NodeProto matMul = model.Graph.Node.First(n => n.OpType == "MatMul");
        matMul.OpType = "Gemm";
        matMul.Input[1] = "fc1.bias";

        string message = AssertInvalid(model, validate: false);

        Assert.Contains($"Node '{matMul.Name}' (Gemm) in the main graph reads the initializer 'fc1.bias' of shape [256] as input 1, which Gemm takes 2-D", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void A_weight_with_a_zero_dim_is_left_alone_as_empty(int axis)
    {
        // An empty weight is valid ONNX (a [64, 0] MatMul weight computes an empty output); with WeightThreshold=0 it qualifies
        // by count, and the quantizer must not divide by its missing channels.
        ModelProto model = Digits();
        TensorProto weight = Weight(model, "fc1.weight");
        weight.Dims[axis] = 0;
        weight.RawData = ByteString.Empty;

        CompressionOutcome outcome = Compress(model, validate: false);

        Assert.DoesNotContain(outcome.Report.Changed, c => c.Name == "fc1.weight");
        Assert.Equal("an empty tensor", outcome.Report.LeftAlone.Single(t => t.Name == "fc1.weight").Reason);
    }

    [Fact]
    public void A_fixed_input_too_large_to_synthesize_says_so_with_OCB0103()
    {
        // Valid ONNX, but 2^27 elements per input is more than validation synthesizes (a dim of 2^31 overflowed an int): it asks for samples.
        ModelProto model = Digits();
        model.Graph.Input[0].Type.TensorType.Shape.Dim[0] = new TensorShapeProto.Types.Dimension { DimValue = 1L << 21 };

        var error = Assert.Throws<CompressionException>(() => Compress(model, validate: true));

        Assert.Equal(DiagnosticCodes.InvalidValidationData, error.Code);
        Assert.Contains("input 'pixels' has the fixed shape [2097152, 64], 134217728 elements, more than the 67108864 a synthesized input may have", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(folder.File("out", "model.onnx")));
    }

    [Fact]
    public void A_node_that_reads_its_own_output_is_a_cycle()
    {
        ModelProto model = Digits();
        NodeProto first = model.Graph.Node[0];
        NodeProto last = model.Graph.Node[^1];
        first.Input[0] = last.Output[0];

        string message = AssertInvalid(model, validate: false);

        Assert.Contains("The nodes of the main graph form a cycle", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_node_input_nothing_defines_is_named()
    {
        ModelProto model = Digits();
        model.Graph.Node[1].Input[0] = "no_such_value";

        string message = AssertInvalid(model, validate: false);

        Assert.Contains("'no_such_value' is read by a node of the main graph (or a subgraph of it), but no node, initializer or graph input defines it", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_value_two_nodes_compute_is_named()
    {
        ModelProto model = Digits();
        string taken = model.Graph.Node[0].Output[0];
        model.Graph.Node[2].Output[0] = taken;

        string message = AssertInvalid(model, validate: false);

        Assert.Contains($"'{taken}' is computed by node", message, StringComparison.Ordinal);
        Assert.Contains("every value must have one definition", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_subgraph_that_reads_a_name_nothing_defines_is_named_with_its_node()
    {
        ModelProto model = Digits();
        var branch = new GraphProto { Name = "then" };
        branch.Node.Add(new NodeProto { OpType = "Identity", Name = "inner", Input = { "undefined_outer" }, Output = { "then_out" } });
        branch.Output.Add(new ValueInfoProto { Name = "then_out" });
        var ifNode = new NodeProto { OpType = "If", Name = "branching", Input = { model.Graph.Input[0].Name }, Output = { "if_out" } };
        ifNode.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeType.Graph, G = branch });
        ifNode.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeType.Graph, G = branch.Clone() });
        model.Graph.Node.Add(ifNode);

        string message = AssertInvalid(model, validate: false);

        Assert.Contains("'undefined_outer' is read by a node of the subgraph '", message, StringComparison.Ordinal);
        Assert.Contains("_branch' of node 'branching' (If) in the main graph", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_model_local_function_that_calls_itself_is_refused_before_ONNX_Runtime_loads_it(bool mutual)
    {
        ModelProto model = Digits();
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "local", Version = 1 });
        model.Functions.Add(Function("F", mutual ? "G" : "F"));
        if (mutual)
        {
            model.Functions.Add(Function("G", "F"));
        }

        string logits = model.Graph.Output[0].Name;
        model.Graph.Node.Add(new NodeProto { OpType = "F", Domain = "local", Name = "call", Input = { logits }, Output = { "called" } });
        model.Graph.Output.Add(new ValueInfoProto { Name = "called", Type = model.Graph.Output[0].Type.Clone() });

        string message = AssertInvalid(model, validate: true);

        Assert.Contains(mutual ? "function 'local.F' calls itself through other functions" : "function 'local.F' calls itself;", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Subgraphs_nested_as_deep_as_protobuf_reads_do_not_overflow_the_stack()
    {
        // 320 nested If bodies: 960 protobuf levels, under the reader's limit of 1000. The compressor walks them with
        // explicit stacks; validation is off (how ONNX Runtime copes with the depth is not the compressor's to check).
        ModelProto model = Digits();
        GraphProto inner = Branch("level0", "cond");
        for (int level = 1; level < 320; level++)
        {
            var wrapper = new GraphProto { Name = $"level{level}" };
            var nested = new NodeProto { OpType = "If", Name = $"if{level}", Input = { "cond" }, Output = { $"level{level}_out" } };
            nested.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeType.Graph, G = inner });
            nested.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeType.Graph, G = Branch($"else{level}", "cond") });
            wrapper.Node.Add(nested);
            wrapper.Output.Add(new ValueInfoProto { Name = $"level{level}_out" });
            inner = wrapper;
        }

        var top = new NodeProto { OpType = "If", Name = "deep", Input = { "cond" }, Output = { "deep_out" } };
        top.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeType.Graph, G = inner });
        top.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeType.Graph, G = Branch("else", "cond") });
        model.Graph.Input.Add(new ValueInfoProto { Name = "cond", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Bool, Shape = new TensorShapeProto() } } });
        model.Graph.Node.Add(top);
        model.Graph.Output.Add(new ValueInfoProto { Name = "deep_out" });

        CompressionOutcome outcome = Compress(model, validate: false);

        Assert.Equal(3, outcome.Report.Changed.Count);
    }

    private static GraphProto Branch(string name, string read)
    {
        var graph = new GraphProto { Name = name };
        graph.Node.Add(new NodeProto { OpType = "Identity", Name = name + "_identity", Input = { read }, Output = { name + "_out" } });
        graph.Output.Add(new ValueInfoProto { Name = name + "_out" });
        return graph;
    }

    private static FunctionProto Function(string name, string callee)
    {
        var function = new FunctionProto { Name = name, Domain = "local", Input = { "x" }, Output = { "y" } };
        function.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 13 });
        function.OpsetImport.Add(new OperatorSetIdProto { Domain = "local", Version = 1 });
        function.Node.Add(new NodeProto { OpType = callee, Domain = "local", Name = $"{name}_calls_{callee}", Input = { "x" }, Output = { "y" } });
        return function;
    }

    private static ModelProto Digits() => OnnxModelFile.Load(RepositoryPaths.DigitsModel);

    private static TensorProto Weight(ModelProto model, string name) => model.Graph.Initializer.Single(t => t.Name == name);

    private CompressionOutcome Compress(ModelProto model, bool validate)
    {
        string input = folder.File("model.onnx");
        OnnxModelFile.Save(model, input);
        return ModelCompressor.Compress(new CompressionRequest(input, folder.File("out", "model.onnx"))
        {
            Settings = CompressionSettings.Default.Set(EvaluationSettings.Validate, validate).Set(QuantizationSettings.WeightThreshold, 0L),
        });
    }

    /// <summary>Compresses the model, expects OCB0002 naming the file, checks that nothing was written, and returns the message.</summary>
    private string AssertInvalid(ModelProto model, bool validate)
    {
        var error = Assert.Throws<CompressionException>(() => Compress(model, validate));
        Assert.Equal(DiagnosticCodes.InvalidModel, error.Code);
        Assert.Equal(folder.File("model.onnx"), error.ModelPath);
        Assert.Contains($"'{folder.File("model.onnx")}' is not a valid ONNX model: ", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder.File("out")) && Directory.EnumerateFileSystemEntries(folder.File("out")).Any(), "nothing is written");
        return error.Message;
    }
}
