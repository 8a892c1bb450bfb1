using Compression.Core.Signature;
using Compression.Onnx;
using Compression.Onnx.Protos;
using CompressorSignature = Compression.Core.Signature.ModelSignature;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Build.Generator.Tests;

/// <summary>
/// Small models the generated API's tests run in ONNX Runtime, made by the test, with their signatures written by the
/// compressor's own <see cref="CompressorSignature"/> writer (as a build writes them).
/// </summary>
internal static class ApiModels
{
    /// <summary>The element types of <see cref="WriteWidths"/>, each an input <c>in_&lt;type&gt;</c> [batch, 2] copied to <c>out_&lt;type&gt;</c>.</summary>
    public static readonly (string Name, DataType Type)[] Widths =
    [
        ("int8", DataType.Int8), ("uint8", DataType.Uint8), ("int16", DataType.Int16), ("uint16", DataType.Uint16),
        ("int32", DataType.Int32), ("uint32", DataType.Uint32), ("int64", DataType.Int64), ("uint64", DataType.Uint64),
        ("float", DataType.Float), ("double", DataType.Double), ("bool", DataType.Bool), ("float16", DataType.Float16),
    ];

    /// <summary>
    /// <c>sum = tokens + mask + offset</c>: <c>tokens</c> and <c>mask</c> are int64 [batch, sequence] (two open dimensions),
    /// <c>offset</c> an int64 [1] graph input with the initializer 100 for a default.
    /// </summary>
    public static string WriteTokens(string folder)
    {
        var graph = new GraphProto
        {
            Name = "tokens",
            Input = { Tensor("tokens", DataType.Int64, "batch", "sequence"), Tensor("mask", DataType.Int64, "batch", "sequence"), Tensor("offset", DataType.Int64, 1L) },
            Output = { Tensor("sum", DataType.Int64, "batch", "sequence") },
            Initializer = { TensorValues.Create<long>("offset", [1], [100]) },
            Node = { Node("Add", ["tokens", "mask"], "both"), Node("Add", ["both", "offset"], "sum") },
        };
        return Save(folder, "tokens.onnx", graph);
    }

    /// <summary>Identity of one input [batch, 2] per element type of <see cref="Widths"/>.</summary>
    public static string WriteWidths(string folder)
    {
        var graph = new GraphProto { Name = "widths" };
        foreach ((string name, DataType type) in Widths)
        {
            graph.Input.Add(Tensor("in_" + name, type, "batch", 2L));
            graph.Output.Add(Tensor("out_" + name, type, "batch", 2L));
            graph.Node.Add(Node("Identity", ["in_" + name], "out_" + name));
        }

        return Save(folder, "widths.onnx", graph);
    }

    /// <summary>The signature the compressor writes for the model at <paramref name="path"/>, copied as it is.</summary>
    public static string SignatureOf(string path, string source)
    {
        ModelProto model = OnnxModelFile.Load(path);
        (IReadOnlyList<TensorSignature> inputs, IReadOnlyList<TensorSignature> outputs) = CompressorSignature.ReadInterface(model);
        long size = new FileInfo(path).Length;
        var signature = new CompressorSignature(source, null, [], size, size, new Dictionary<string, string>(), inputs, outputs)
        {
            OptionalInputs = CompressorSignature.ReadOptionalInputs(model),
        };
        return signature.ToText();
    }

    private static string Save(string folder, string fileName, GraphProto graph)
    {
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "Compression.Build generator tests",
            OpsetImport = { new OperatorSetIdProto { Domain = string.Empty, Version = 17 } },
            Graph = graph,
        };
        string path = Path.Combine(folder, fileName);
        OnnxModelFile.Save(model, path);
        return path;
    }

    private static NodeProto Node(string opType, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = opType, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }

    private static ValueInfoProto Tensor(string name, DataType type, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (object dim in dims)
        {
            shape.Dim.Add(dim is string symbol
                ? new TensorShapeProto.Types.Dimension { DimParam = symbol }
                : new TensorShapeProto.Types.Dimension { DimValue = (long)dim });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
