using Compression.Onnx;
using Compression.Onnx.Protos;
using Compression.Core.Runtime;
using Google.Protobuf;
using AttributeType = Compression.Onnx.Protos.AttributeProto.Types.AttributeType;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Support;

/// <summary>
/// Builds ONNX graphs by hand, the way onnx.helper does in Python: inputs, initializers, nodes and outputs in the
/// order they are added. Dimensions are sizes (<c>64</c>) or symbolic names (<c>"batch"</c>); null dimensions leave
/// the shape unknown (to shape inference, or of any rank).
/// </summary>
internal abstract class GraphBuilderBase<TSelf>
    where TSelf : GraphBuilderBase<TSelf>
{
    protected GraphBuilderBase(string name)
    {
        Graph.Name = name;
    }

    protected GraphProto Graph { get; } = new();

    /// <summary>Adds a graph input.</summary>
    public TSelf Input(string name, DataType elementType, params object[]? dims)
    {
        Graph.Input.Add(TensorValue(name, elementType, dims));
        return (TSelf)this;
    }

    /// <summary>Adds a graph output.</summary>
    public TSelf Output(string name, DataType elementType, params object[]? dims)
    {
        Graph.Output.Add(TensorValue(name, elementType, dims));
        return (TSelf)this;
    }

    /// <summary>Adds a value_info entry.</summary>
    public TSelf ValueInfo(string name, DataType elementType, params object[]? dims)
    {
        Graph.ValueInfo.Add(TensorValue(name, elementType, dims));
        return (TSelf)this;
    }

    /// <summary>Adds a constant tensor.</summary>
    public TSelf Initializer<T>(string name, long[] dims, T[] values) where T : unmanaged
    {
        Graph.Initializer.Add(TensorValues.Create<T>(name, dims, values));
        return (TSelf)this;
    }

    /// <summary>Adds a node of the default domain, named after its operator and first output.</summary>
    public TSelf Node(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = $"{opType}_{outputs[0]}" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return (TSelf)this;
    }

    public GraphProto BuildGraph() => Graph.Clone();

    protected static ValueInfoProto TensorValue(string name, DataType elementType, object[]? dims)
    {
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType };
        if (dims is not null)
        {
            tensorType.Shape = new TensorShapeProto();
            foreach (object dim in dims)
            {
                tensorType.Shape.Dim.Add(dim switch
                {
                    string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                    int size => new TensorShapeProto.Types.Dimension { DimValue = size },
                    long size => new TensorShapeProto.Types.Dimension { DimValue = size },
                    _ => throw new ArgumentException($"A dimension is a size or a symbol, not {dim}."),
                });
            }
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
    }
}

/// <summary>Builds a subgraph (an If branch, a Loop or Scan body).</summary>
internal sealed class GraphBuilder(string name) : GraphBuilderBase<GraphBuilder>(name);

/// <summary>A graph builder for a whole model: IR version 8 and default opset 17 unless told otherwise.</summary>
internal sealed class ModelBuilder : GraphBuilderBase<ModelBuilder>
{
    private readonly long opset;
    private readonly long irVersion;

    public ModelBuilder(long opset = 17, long irVersion = 8)
        : base("test")
    {
        this.opset = opset;
        this.irVersion = irVersion;
    }

    /// <summary>Lists an existing initializer among the graph inputs, as IR version 3 models must.</summary>
    public ModelBuilder InitializerAsInput(string name)
    {
        TensorProto tensor = Graph.Initializer.Single(t => t.Name == name);
        Graph.Input.Add(TensorValue(name, (DataType)tensor.DataType, tensor.Dims.Select(d => (object)d).ToArray()));
        return this;
    }

    /// <summary>The model, importing the default domain at the builder's opset.</summary>
    public ModelProto Build()
    {
        var model = new ModelProto
        {
            IrVersion = irVersion,
            ProducerName = "Compression.Core.Tests",
            Graph = BuildGraph(),
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = opset });
        return model;
    }
}

/// <summary>Node attributes.</summary>
internal static class Attributes
{
    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeType.Float, F = value };

    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeType.String, S = ByteString.CopyFromUtf8(value) };

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

    public static AttributeProto Subgraph(string name, GraphProto graph) => new() { Name = name, Type = AttributeType.Graph, G = graph };
}

/// <summary>Deterministic test values.</summary>
internal static class SeededValues
{
    /// <summary><paramref name="count"/> floats uniform in [-<paramref name="magnitude"/>, <paramref name="magnitude"/>).</summary>
    public static float[] Uniform(int seed, int count, float magnitude = 1f)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)((random.NextDouble() * 2) - 1) * magnitude;
        }

        return values;
    }

    /// <summary>
    /// Correlated rows, as real activations are: each of <paramref name="rows"/> rows of <paramref name="k"/> features mixes
    /// <paramref name="sources"/> random sources through <paramref name="mixing"/> ([sources, k]), plus uniform noise of
    /// width <paramref name="noise"/>.
    /// </summary>
    public static float[] CorrelatedRows(Random random, float[] mixing, int sources, int rows, int k, float noise)
    {
        var x = new float[rows * k];
        for (int r = 0; r < rows; r++)
        {
            var drawn = Enumerable.Range(0, sources).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            for (int c = 0; c < k; c++)
            {
                float value = noise * (float)(random.NextDouble() - 0.5);
                for (int s = 0; s < sources; s++)
                {
                    value += drawn[s] * mixing[(s * k) + c];
                }

                x[(r * k) + c] = value;
            }
        }

        return x;
    }

    /// <summary>X^T X of <paramref name="rows"/> rows of <paramref name="k"/> features, in double.</summary>
    public static double[] Gram(float[] x, int rows, int k)
    {
        var gram = new double[k * k];
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < k; i++)
            {
                for (int j = 0; j < k; j++)
                {
                    gram[(i * k) + j] += (double)x[(r * k) + i] * x[(r * k) + j];
                }
            }
        }

        return gram;
    }

    /// <summary>A float tensor of the given shape, its values uniform in [-<paramref name="magnitude"/>, <paramref name="magnitude"/>).</summary>
    public static OnnxTensor<float> Tensor(int seed, float magnitude, params long[] shape)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        return OnnxTensor.FromArray(Uniform(seed, checked((int)count), magnitude), shape);
    }
}
