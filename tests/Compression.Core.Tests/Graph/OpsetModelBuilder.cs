using Compression.Onnx;
using Compression.Onnx.Protos;
using Compression.Runtime;
using Google.Protobuf;
using AttributeType = Compression.Onnx.Protos.AttributeProto.Types.AttributeType;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Graph;

/// <summary>Builds small ONNX models (and subgraphs) in code for the upgrade tests.</summary>
internal sealed class OpsetModelBuilder
{
    private readonly GraphProto graph = new() { Name = "test" };
    private readonly long opset;

    public OpsetModelBuilder(long opset)
    {
        this.opset = opset;
    }

    /// <summary>The graph being built, for use as a subgraph.</summary>
    public GraphProto Graph => graph;

    /// <summary>Adds a graph input; null dims leave its shape unknown.</summary>
    public OpsetModelBuilder Input(string name, DataType type, params long[]? dims)
    {
        graph.Input.Add(Value(name, type, dims));
        return this;
    }

    /// <summary>Adds a graph output of the given type (and shape, when given).</summary>
    public OpsetModelBuilder Output(string name, DataType type, params long[]? dims)
    {
        graph.Output.Add(Value(name, type, dims));
        return this;
    }

    /// <summary>Adds a value_info entry.</summary>
    public OpsetModelBuilder ValueInfo(string name, DataType type, params long[]? dims)
    {
        graph.ValueInfo.Add(Value(name, type, dims));
        return this;
    }

    /// <summary>Adds an initializer.</summary>
    public OpsetModelBuilder Initializer<T>(string name, long[] dims, T[] values)
        where T : unmanaged
    {
        graph.Initializer.Add(TensorValues.Create<T>(name, dims, values));
        return this;
    }

    /// <summary>Adds a node of the default domain, named after its first output.</summary>
    public OpsetModelBuilder Node(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = $"{opType}_{outputs[0]}" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
        return this;
    }

    /// <summary>The model, importing the default domain at the builder's opset.</summary>
    public ModelProto Build()
    {
        var model = new ModelProto { IrVersion = 7, ProducerName = "upgrade-tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = opset });
        return model;
    }

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    public static AttributeProto Floats(string name, params float[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeType.Floats };
        attribute.Floats.AddRange(values);
        return attribute;
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeType.Float, F = value };

    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Subgraph(string name, GraphProto value) => new() { Name = name, Type = AttributeType.Graph, G = value };

    /// <summary>A float tensor of the given shape with reproducible values in [-2, 2).</summary>
    public static OnnxTensor<float> RandomFloats(int seed, params long[] shape)
    {
        var random = new Random(seed);
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var values = new float[count];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)((random.NextDouble() * 4) - 2);
        }

        return OnnxTensor.FromArray(values, shape);
    }

    private static ValueInfoProto Value(string name, DataType type, long[]? dims)
    {
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)type };
        if (dims is not null)
        {
            tensorType.Shape = new TensorShapeProto();
            foreach (long dim in dims)
            {
                tensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = dim });
            }
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
    }
}
