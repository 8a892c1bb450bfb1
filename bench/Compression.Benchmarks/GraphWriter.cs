using System.Globalization;
using Compression.Onnx;
using Compression.Onnx.Protos;
using AttributeType = Compression.Onnx.Protos.AttributeProto.Types.AttributeType;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Benchmarks;

/// <summary>Writes the benchmark's models in C#: nodes named after their output, seeded normal weights, opset 17, IR 8.</summary>
internal sealed class GraphWriter(int seed)
{
    private readonly Random random = new(seed);

    public GraphProto Graph { get; } = new();

    public void Constant<T>(string name, long[] dims, T[] values) where T : unmanaged =>
        Graph.Initializer.Add(TensorValues.Create<T>(name, dims, values));

    public string Node(string opType, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = output + "_" + opType };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return output;
    }

    /// <summary>An initializer of normal values with standard deviation <paramref name="deviation"/> (Box-Muller).</summary>
    public void Normal(string name, long[] dims, double deviation) =>
        Constant(name, dims, NormalValues(dims.Aggregate(1L, (a, d) => a * d), deviation));

    /// <summary>Seeded normal values with standard deviation <paramref name="deviation"/> (Box-Muller).</summary>
    public float[] NormalValues(long count, double deviation)
    {
        var values = new float[count];
        for (long i = 0; i < count; i += 2)
        {
            double radius = Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * deviation;
            double angle = 2 * Math.PI * random.NextDouble();
            values[i] = (float)(radius * Math.Cos(angle));
            if (i + 1 < count)
            {
                values[i + 1] = (float)(radius * Math.Sin(angle));
            }
        }

        return values;
    }

    public ModelProto Model(string name, string description, ValueInfoProto input, ValueInfoProto output)
    {
        Graph.Name = name;
        Graph.Input.Add(input);
        Graph.Output.Add(output);
        var model = new ModelProto { IrVersion = 8, ProducerName = "Compression.Benchmarks", DocString = description, Graph = Graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
        return model;
    }

    /// <summary>A tensor's name, element type and dimensions (numbers, or strings for symbolic ones).</summary>
    public static ValueInfoProto Tensor(string name, DataType type, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (object dim in dims)
        {
            shape.Dim.Add(dim is string symbol
                ? new TensorShapeProto.Types.Dimension { DimParam = symbol }
                : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(dim, CultureInfo.InvariantCulture) });
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }
}
