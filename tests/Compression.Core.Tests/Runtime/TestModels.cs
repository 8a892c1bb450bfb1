using Compression.Core.Runtime;
using Compression.Onnx.Protos;
using Google.Protobuf;

namespace Compression.Core.Tests.Runtime;

/// <summary>Tiny ONNX models built in code with the generated protobuf classes, serialized to bytes.</summary>
internal static class TestModels
{
    public const int Opset = 17;

    /// <summary>A dimension: a long is a fixed size, a string a symbolic name, null an unnamed unknown size.</summary>
    public static ValueInfoProto Value(string name, TensorElementType type, params object?[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (object? dim in dims)
        {
            shape.Dim.Add(dim switch
            {
                null => new TensorShapeProto.Types.Dimension(),
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                _ => new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(dim, System.Globalization.CultureInfo.InvariantCulture) },
            });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    public static NodeProto Node(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    public static AttributeProto Attribute(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Attribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static byte[] Model(IEnumerable<NodeProto> nodes, IEnumerable<ValueInfoProto> inputs, IEnumerable<ValueInfoProto> outputs, IEnumerable<TensorProto>? initializers = null)
    {
        var graph = new GraphProto { Name = "test" };
        graph.Node.AddRange(nodes);
        graph.Input.AddRange(inputs);
        graph.Output.AddRange(outputs);
        graph.Initializer.AddRange(initializers ?? []);
        var model = new ModelProto { IrVersion = 8, ProducerName = "Compression.Core.Tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model.ToByteArray();
    }

    /// <summary>y = Identity(x) for one element type and shape.</summary>
    public static byte[] Identity(TensorElementType type, params object?[] dims) =>
        Model([Node("Identity", ["x"], ["y"])], [Value("x", type, dims)], [Value("y", type, dims)]);

    /// <summary>z = x + y over float [batch, 3] (y broadcasts from [3]).</summary>
    public static byte[] AddFloat() =>
        Model([Node("Add", ["x", "y"], ["z"])], [Value("x", TensorElementType.Float, "batch", 3L), Value("y", TensorElementType.Float, 3L)],
            [Value("z", TensorElementType.Float, "batch", 3L)]);

    /// <summary>Three outputs of float x [n]: doubled = x + x, squared = x * x, negated = -x.</summary>
    public static byte[] ThreeOutputs() =>
        Model(
            [Node("Add", ["x", "x"], ["doubled"]), Node("Mul", ["x", "x"], ["squared"]), Node("Neg", ["x"], ["negated"])],
            [Value("x", TensorElementType.Float, "n")],
            [Value("doubled", TensorElementType.Float, "n"), Value("squared", TensorElementType.Float, "n"), Value("negated", TensorElementType.Float, "n")]);

    /// <summary>y = MatMul(x [batch, 4], w [4, 3]) + b with constant weights: w[i, j] = i - j, b[j] = j.</summary>
    public static byte[] Linear()
    {
        var w = new TensorProto { Name = "w", DataType = (int)TensorElementType.Float };
        w.Dims.AddRange([4, 3]);
        for (int i = 0; i < 4; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                w.FloatData.Add(i - j);
            }
        }

        var b = new TensorProto { Name = "b", DataType = (int)TensorElementType.Float };
        b.Dims.Add(3);
        b.FloatData.AddRange([0f, 1f, 2f]);
        return Model(
            [Node("MatMul", ["x", "w"], ["xw"]), Node("Add", ["xw", "b"], ["y"])],
            [Value("x", TensorElementType.Float, "batch", 4L)],
            [Value("y", TensorElementType.Float, "batch", 3L)],
            [w, b]);
    }

    /// <summary>The expected output of <see cref="Linear"/> for one row.</summary>
    public static float[] LinearReference(ReadOnlySpan<float> row)
    {
        var y = new float[3];
        for (int j = 0; j < 3; j++)
        {
            float sum = j;
            for (int i = 0; i < 4; i++)
            {
                sum += row[i] * (i - j);
            }

            y[j] = sum;
        }

        return y;
    }
}
