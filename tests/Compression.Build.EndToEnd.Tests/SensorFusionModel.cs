using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Build.EndToEnd.Tests;

/// <summary>
/// A model nobody in the repository has seen, made by the test: two inputs sharing a symbolic batch dimension
/// (an 8x8 image and 16 features), a small Conv whose weight stays float (72 elements, below the weight threshold),
/// and a Gemm with transB whose weight [3, 528] is quantized along axis 0.
/// </summary>
internal static class SensorFusionModel
{
    public static void Write(string path)
    {
        var random = new Random(20261121);
        float[] Values(int count, float scale)
        {
            var values = new float[count];
            for (int i = 0; i < count; i++)
            {
                values[i] = (float)((random.NextDouble() * 2) - 1) * scale;
            }

            return values;
        }

        var graph = new GraphProto
        {
            Name = "sensor_fusion",
            Input = { Tensor("image", "batch", 1, 8, 8), Tensor("features", "batch", 16) },
            Output = { Tensor("scores", "batch", 3) },
            Initializer =
            {
                TensorValues.Create<float>("conv.weight", [8, 1, 3, 3], Values(72, 0.5f)),
                TensorValues.Create<float>("conv.bias", [8], Values(8, 0.1f)),
                TensorValues.Create<float>("head.weight", [3, 528], Values(3 * 528, 0.05f)),
                TensorValues.Create<float>("head.bias", [3], Values(3, 0.1f)),
            },
            Node =
            {
                Node("Conv", ["image", "conv.weight", "conv.bias"], ["conv"], new AttributeProto { Name = "pads", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1, 1, 1, 1 } }),
                Node("Relu", ["conv"], ["relu"]),
                Node("Flatten", ["relu"], ["flat"], new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 }),
                Node("Concat", ["flat", "features"], ["joined"], new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 }),
                Node("Gemm", ["joined", "head.weight", "head.bias"], ["scores"], new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 }),
            },
        };
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "Compression.Build end-to-end tests",
            OpsetImport = { new OperatorSetIdProto { Domain = string.Empty, Version = 17 } },
            Graph = graph,
        };
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        OnnxModelFile.Save(model, path);
    }

    private static NodeProto Node(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = outputs[0] };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    private static ValueInfoProto Tensor(string name, string batch, params long[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = batch });
        foreach (long dim in dims)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = dim });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
