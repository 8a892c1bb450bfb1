using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Opsets;

/// <summary>
/// The element type and rank of the values of one graph, as far as they can be told without running it: from the
/// graph's inputs, outputs, value_info and initializers, from Constant nodes, and propagated through the common
/// operators in node order. A subgraph's lookup falls back on the graph that holds it (outer-scope values).
/// </summary>
/// <remarks>
/// The rules read nodes as the model's own opset defines them: attributes such as Squeeze's <c>axes</c> as well as
/// the input forms later opsets use. Anything the rules do not cover stays unknown; callers treat unknown as
/// "cannot tell", never as a guess.
/// </remarks>
internal sealed class ValueTypes
{
    private readonly ValueTypes? outer;
    private readonly Dictionary<string, int> ranks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DataType> types = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TensorProto> constants = new(StringComparer.Ordinal);

    private ValueTypes(ValueTypes? outer)
    {
        this.outer = outer;
    }

    /// <summary>The rank of <paramref name="name"/>, or null when it cannot be told.</summary>
    public int? Rank(string name) =>
        ranks.TryGetValue(name, out int rank) ? rank : outer?.Rank(name);

    /// <summary>The element type of <paramref name="name"/>, or null when it cannot be told.</summary>
    public DataType? ElementType(string name) =>
        types.TryGetValue(name, out DataType type) ? type : outer?.ElementType(name);

    /// <summary>The value of <paramref name="name"/> when it is an initializer or the output of a Constant node.</summary>
    public TensorProto? Constant(string name) =>
        constants.TryGetValue(name, out TensorProto? tensor) ? tensor : outer?.Constant(name);

    /// <summary>Records what is known of a value a conversion adds.</summary>
    public void Declare(string name, int? rank, DataType? type)
    {
        if (rank is int r)
        {
            ranks[name] = r;
        }

        if (type is DataType t)
        {
            types[name] = t;
        }
    }

    /// <summary>Reads what <paramref name="graph"/> declares and propagates it through its nodes.</summary>
    /// <param name="graph">The graph.</param>
    /// <param name="outer">The lookup of the graph that holds <paramref name="graph"/> as a subgraph, if any.</param>
    /// <param name="opsetVersion">The default-domain opset the nodes are written in.</param>
    public static ValueTypes Infer(GraphProto graph, ValueTypes? outer, long opsetVersion)
    {
        var lookup = new ValueTypes(outer);
        foreach (TensorProto tensor in graph.Initializer)
        {
            lookup.constants[tensor.Name] = tensor;
            lookup.Declare(tensor.Name, tensor.Dims.Count, (DataType)tensor.DataType);
        }

        foreach (ValueInfoProto value in graph.Input.Concat(graph.ValueInfo).Concat(graph.Output))
        {
            lookup.DeclareFromType(value);
        }

        foreach (NodeProto node in graph.Node)
        {
            if (OpsetVersions.IsDefaultDomain(node.Domain))
            {
                lookup.Propagate(node, opsetVersion);
            }
        }

        return lookup;
    }

    private void DeclareFromType(ValueInfoProto value)
    {
        if (value.Type?.TensorType is not { } tensorType)
        {
            return;
        }

        if (tensorType.ElemType != 0 && !types.ContainsKey(value.Name))
        {
            types[value.Name] = (DataType)tensorType.ElemType;
        }

        if (tensorType.Shape is { } shape && !ranks.ContainsKey(value.Name))
        {
            ranks[value.Name] = shape.Dim.Count;
        }
    }

    // Declares the outputs of one node; what is declared already (value_info) wins.
    private void Propagate(NodeProto node, long opsetVersion)
    {
        if (node.OpType == "Constant")
        {
            DeclareConstant(node);
            return;
        }

        int? rank = OutputRank(node);
        DataType? type = OutputType(node, opsetVersion);
        for (int k = 0; k < node.Output.Count; k++)
        {
            string output = node.Output[k];
            if (output.Length == 0)
            {
                continue;
            }

            (int? outputRank, DataType? outputType) = k == 0 ? (rank, type) : SecondaryOutput(node, k, rank, type, opsetVersion);
            if (outputRank is int r)
            {
                ranks.TryAdd(output, r);
            }

            if (outputType is DataType t)
            {
                types.TryAdd(output, t);
            }
        }
    }

    private void DeclareConstant(NodeProto node)
    {
        if (node.Output.Count == 0)
        {
            return;
        }

        string output = node.Output[0];
        if (node.Find("value") is { T: { } tensor })
        {
            constants.TryAdd(output, tensor);
            ranks.TryAdd(output, tensor.Dims.Count);
            types.TryAdd(output, (DataType)tensor.DataType);
        }
        else if (node.Find("value_float") is not null)
        {
            Declare(output, 0, DataType.Float);
        }
        else if (node.Find("value_floats") is not null)
        {
            Declare(output, 1, DataType.Float);
        }
        else if (node.Find("value_int") is not null)
        {
            Declare(output, 0, DataType.Int64);
        }
        else if (node.Find("value_ints") is not null)
        {
            Declare(output, 1, DataType.Int64);
        }
    }

    // Operators whose first output has the rank of their first input.
    private static readonly HashSet<string> SameRank = new(StringComparer.Ordinal)
    {
        "Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "AveragePool", "BatchNormalization", "Cast", "Ceil",
        "Celu", "Clip", "Concat", "Conv", "ConvInteger", "ConvTranspose", "Cos", "Cosh", "CumSum", "DepthToSpace",
        "DequantizeLinear", "Dropout", "Elu", "Erf", "Exp", "Floor", "GlobalAveragePool", "GlobalLpPool",
        "GlobalMaxPool", "HardSigmoid", "HardSwish", "Hardmax", "Identity", "InstanceNormalization", "IsInf", "IsNaN",
        "LRN", "LeakyRelu", "Log", "LogSoftmax", "LpNormalization", "LpPool", "MaxPool", "MaxUnpool",
        "MeanVarianceNormalization", "Neg", "Not", "PRelu", "Pad", "QLinearConv", "QuantizeLinear", "Reciprocal",
        "Relu", "Resize", "ReverseSequence", "Round", "Scatter", "ScatterElements", "ScatterND", "Selu", "Shrink",
        "Sigmoid", "Sign", "Sin", "Sinh", "Slice", "Softmax", "Softplus", "Softsign", "SpaceToDepth", "Split", "Sqrt",
        "Tan", "Tanh", "ThresholdedRelu", "Tile", "TopK", "Transpose", "Trilu", "Upsample",
    };

    // Operators whose output has the largest rank of their inputs (numpy broadcasting; the limited broadcasting of
    // opset 6 and older only ever broadcasts the second input into the first, which gives the same rank).
    private static readonly HashSet<string> Broadcasting = new(StringComparer.Ordinal)
    {
        "Add", "And", "BitShift", "Div", "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "Max", "Mean",
        "Min", "Mod", "Mul", "Or", "Pow", "Sub", "Sum", "Where", "Xor",
    };

    // Operators whose first output is boolean.
    private static readonly HashSet<string> BooleanOutput = new(StringComparer.Ordinal)
    {
        "And", "Equal", "Greater", "GreaterOrEqual", "IsInf", "IsNaN", "Less", "LessOrEqual", "Not", "Or", "Xor",
    };

    // Operators whose first output is int64 whatever their inputs.
    private static readonly HashSet<string> Int64Output = new(StringComparer.Ordinal)
    {
        "ArgMax", "ArgMin", "NonMaxSuppression", "NonZero", "Shape", "Size",
    };

    private int? OutputRank(NodeProto node)
    {
        int? first = node.Input.Count > 0 ? Rank(node.Input[0]) : null;
        if (SameRank.Contains(node.OpType))
        {
            return first;
        }

        if (Broadcasting.Contains(node.OpType))
        {
            int? largest = null;
            foreach (string input in node.Input)
            {
                if (input.Length == 0)
                {
                    continue;
                }

                if (Rank(input) is not int r)
                {
                    return null;
                }

                largest = Math.Max(largest ?? 0, r);
            }

            return largest;
        }

        return node.OpType switch
        {
            "Flatten" or "Gemm" or "NonZero" or "NonMaxSuppression" or "EyeLike" => 2,
            "Shape" or "Range" => 1,
            "Size" => 0,
            "MatMul" or "MatMulInteger" or "QLinearMatMul" => MatMulRank(node),
            "Reshape" => LengthOf(node, 1, "shape"),
            "Squeeze" => first - LengthOf(node, 1, "axes"),
            "Unsqueeze" => first + LengthOf(node, 1, "axes"),
            "ArgMax" or "ArgMin" => node.GetInt("keepdims", 1) != 0 ? first : first - 1,
            "ReduceL1" or "ReduceL2" or "ReduceLogSum" or "ReduceLogSumExp" or "ReduceMax" or "ReduceMean" or
                "ReduceMin" or "ReduceProd" or "ReduceSum" or "ReduceSumSquare" => ReduceRank(node, first),
            "Gather" => first + (node.Input.Count > 1 ? Rank(node.Input[1]) : null) - 1,
            "GatherElements" => node.Input.Count > 1 ? Rank(node.Input[1]) : null,
            "Expand" => first is int f && LengthOf(node, 1, null) is int n ? Math.Max(f, n) : null,
            "OneHot" => first + 1,
            "Compress" => node.Has("axis") ? first : 1,
            "ConstantOfShape" => LengthOf(node, 0, null),
            _ => null,
        };
    }

    private int? MatMulRank(NodeProto node)
    {
        int? a = node.Input.Count > 0 ? Rank(node.Input[0]) : null;
        int? b = node.Input.Count > 1 ? Rank(node.Input[node.OpType == "QLinearMatMul" ? 3 : 1]) : null;
        return (a, b) switch
        {
            (int ra, int rb) when ra >= 2 && rb >= 2 => Math.Max(ra, rb),
            (1, int rb) => rb - 1,
            (int ra, 1) => ra - 1,
            _ => null,
        };
    }

    private static int? ReduceRank(NodeProto node, int? rank)
    {
        if (node.GetInt("keepdims", 1) != 0)
        {
            return rank;
        }

        long[]? axes = node.GetInts("axes");
        return axes is null ? (node.Input.Count > 1 ? null : 0) : rank - axes.Length;
    }

    // The number of elements of a 1-D list given as the attribute or as the constant input at inputIndex.
    private int? LengthOf(NodeProto node, int inputIndex, string? attribute)
    {
        if (attribute is not null && node.GetInts(attribute) is { } values)
        {
            return values.Length;
        }

        if (node.Input.Count > inputIndex && node.Input[inputIndex].Length > 0 && Constant(node.Input[inputIndex]) is { Dims.Count: 1 } tensor)
        {
            return (int)tensor.Dims[0];
        }

        return null;
    }

    private DataType? OutputType(NodeProto node, long opsetVersion)
    {
        if (BooleanOutput.Contains(node.OpType))
        {
            return DataType.Bool;
        }

        if (Int64Output.Contains(node.OpType))
        {
            return DataType.Int64;
        }

        DataType? first = node.Input.Count > 0 && node.Input[0].Length > 0 ? ElementType(node.Input[0]) : null;
        return node.OpType switch
        {
            "Cast" when node.Find("to") is { Type: AttributeProto.Types.AttributeType.Int } to => (DataType)to.I,
            "Cast" => null,
            "Where" => node.Input.Count > 1 ? ElementType(node.Input[1]) : null,
            "OneHot" => node.Input.Count > 2 ? ElementType(node.Input[2]) : null,
            "DequantizeLinear" => DataType.Float,
            "QuantizeLinear" => node.Input.Count > 2 && node.Input[2].Length > 0 ? ElementType(node.Input[2]) : DataType.Uint8,
            "DynamicQuantizeLinear" => DataType.Uint8,
            "MatMulInteger" or "ConvInteger" => DataType.Int32,
            "QLinearConv" or "QLinearMatMul" => node.Input.Count > 7 ? ElementType(node.Input[7]) : null,
            "ConstantOfShape" => node.Find("value") is { T: { } value } ? (DataType)value.DataType : DataType.Float,
            "EyeLike" or "RandomNormalLike" or "RandomUniformLike" or "Multinomial" =>
                node.Find("dtype") is { } dtype ? (DataType)dtype.I : (node.OpType == "Multinomial" ? DataType.Int32 : first),
            "RandomNormal" or "RandomUniform" => node.Find("dtype") is { } dtype ? (DataType)dtype.I : DataType.Float,
            "Dropout" when opsetVersion < 10 => first,
            _ when SameRank.Contains(node.OpType) || Broadcasting.Contains(node.OpType) => first,
            "Flatten" or "Gemm" or "MatMul" or "Reshape" or "Squeeze" or "Unsqueeze" or "Gather" or "GatherElements" or
                "GatherND" or "Expand" or "Compress" or "Range" or "Einsum" or "Unique" or
                "ReduceL1" or "ReduceL2" or "ReduceLogSum" or "ReduceLogSumExp" or "ReduceMax" or "ReduceMean" or
                "ReduceMin" or "ReduceProd" or "ReduceSum" or "ReduceSumSquare" => first,
            _ => null,
        };
    }

    // Outputs after the first: the index outputs of TopK, MaxPool and Unique, the mask of Dropout, the outputs of
    // Split (all like the first), the scale and zero point of DynamicQuantizeLinear.
    private static (int? Rank, DataType? Type) SecondaryOutput(NodeProto node, int index, int? rank, DataType? type, long opsetVersion) => node.OpType switch
    {
        "Split" => (rank, type),
        "TopK" or "MaxPool" => (rank, DataType.Int64),
        "Dropout" => (rank, opsetVersion >= 10 ? DataType.Bool : type),
        "Unique" => (1, DataType.Int64),
        "DynamicQuantizeLinear" => (0, index == 1 ? DataType.Float : DataType.Uint8),
        _ => (null, null),
    };
}
