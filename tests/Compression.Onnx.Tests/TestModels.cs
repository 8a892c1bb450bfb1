using Compression.Onnx.Protos;

namespace Compression.Onnx.Tests;

/// <summary>Small models built in code for tests.</summary>
internal static class TestModels
{
    /// <summary>A model with one graph: the given initializers, one Identity node per initializer, opset 17.</summary>
    public static ModelProto WithInitializers(params TensorProto[] initializers)
    {
        var graph = new GraphProto { Name = "test" };
        foreach (var initializer in initializers)
        {
            graph.Initializer.Add(initializer);
            graph.Node.Add(new NodeProto { OpType = "Identity", Input = { initializer.Name }, Output = { initializer.Name + "_out" } });
            graph.Output.Add(FloatOutput(initializer.Name + "_out"));
        }

        return Model(graph);
    }

    public static ModelProto Model(GraphProto graph) => new()
    {
        IrVersion = 8,
        ProducerName = "Compression.Onnx.Tests",
        Graph = graph,
        OpsetImport = { new OperatorSetIdProto { Domain = string.Empty, Version = 17 } },
    };

    public static ValueInfoProto FloatOutput(string name) => new()
    {
        Name = name,
        Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
    };

    /// <summary>A tensor that keeps its data in an external file.</summary>
    public static TensorProto ExternalFloatTensor(string name, long[] dims, ExternalDataReference reference)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.Add(dims);
        reference.ApplyTo(tensor);
        return tensor;
    }
}
