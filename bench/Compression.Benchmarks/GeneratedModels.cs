using Compression.Onnx;
using Compression.Onnx.Protos;
using AttributeType = Compression.Onnx.Protos.AttributeProto.Types.AttributeType;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Benchmarks;

/// <summary>
/// The benchmark's models built in C# with seeded weights (too large to commit, and their latency and memory do not
/// depend on training): a ResNet-style CNN and a 1 GB MLP.
/// </summary>
internal static class GeneratedModels
{
    /// <summary>
    /// A ResNet-style CNN: input <c>image</c> [1, 3, 64, 64], a 3x3 stem to 32 channels, four stages of two residual
    /// blocks (3x3 convs, 32/64/128/256 channels, stride 2 from the second stage, a 1x1 projection where the shape
    /// changes), global average pooling and a 256 -> 100 Gemm: 2.8 M weights, opset 17.
    /// </summary>
    public static ModelProto ResNet(int seed = 7)
    {
        var b = new GraphWriter(seed);
        string x = b.Relu(b.Conv("stem", "image", 3, 32, 3, 1));
        int channels = 32;
        int[] widths = [32, 64, 128, 256];
        for (int stage = 0; stage < widths.Length; stage++)
        {
            for (int block = 0; block < 2; block++)
            {
                string p = $"stage{stage}.block{block}";
                int stride = stage > 0 && block == 0 ? 2 : 1;
                string h = b.Relu(b.Conv(p + ".conv1", x, channels, widths[stage], 3, stride));
                h = b.Conv(p + ".conv2", h, widths[stage], widths[stage], 3, 1);
                string shortcut = stride == 1 && channels == widths[stage] ? x : b.Conv(p + ".projection", x, channels, widths[stage], 1, stride);
                x = b.Relu(b.Node("Add", [h, shortcut], p + ".residual"));
                channels = widths[stage];
            }
        }

        string pooled = b.Node("Flatten", [b.Node("GlobalAveragePool", [x], "pool")], "flatten");
        b.Normal("head.weight", [100, channels], Math.Sqrt(1.0 / channels));
        b.Normal("head.bias", [100], 0.01);
        b.Node("Gemm", [pooled, "head.weight", "head.bias"], "logits", Int("transB", 1));
        return b.Model("resnet", "ResNet-style CNN for the quantization benchmark (seeded weights).",
            Tensor("image", DataType.Float, 1, 3, 64, 64), Tensor("logits", DataType.Float, 1, 100));
    }

    /// <summary>A 16-layer MLP of 4096 x 4096 MatMul weights with ReLU between: input <c>x</c> [batch, 4096], 1.07 GB of float weights.</summary>
    public static ModelProto LargeMlp(int layers = 16, int width = 4096, int seed = 11)
    {
        var b = new GraphWriter(seed);
        string x = "x";
        for (int layer = 0; layer < layers; layer++)
        {
            b.Normal($"layer{layer}.weight", [width, width], Math.Sqrt(2.0 / width));
            x = b.Node("MatMul", [x, $"layer{layer}.weight"], $"layer{layer}.out");
            if (layer < layers - 1)
            {
                x = b.Relu(x);
            }
        }

        b.Node("Identity", [x], "y");
        return b.Model("large_mlp", $"{layers}-layer MLP of {width} x {width} weights for the quantization benchmark (seeded weights).",
            Tensor("x", DataType.Float, "batch", width), Tensor("y", DataType.Float, "batch", width));
    }

    private static ValueInfoProto Tensor(string name, DataType type, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (object dim in dims)
        {
            shape.Dim.Add(dim is string symbol ? new TensorShapeProto.Types.Dimension { DimParam = symbol } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(dim, System.Globalization.CultureInfo.InvariantCulture) });
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeType.Int, I = value };

    private static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    private sealed class GraphWriter(int seed)
    {
        private readonly Random random = new(seed);
        private readonly GraphProto graph = new();

        public string Node(string opType, string[] inputs, string output, params AttributeProto[] attributes)
        {
            var node = new NodeProto { OpType = opType, Name = output + "_" + opType };
            node.Input.AddRange(inputs);
            node.Output.Add(output);
            node.Attribute.AddRange(attributes);
            graph.Node.Add(node);
            return output;
        }

        public string Relu(string x) => Node("Relu", [x], x + ".relu");

        public string Conv(string prefix, string x, int inChannels, int outChannels, int kernel, int stride)
        {
            Normal(prefix + ".weight", [outChannels, inChannels, kernel, kernel], Math.Sqrt(2.0 / (inChannels * kernel * kernel)));
            Normal(prefix + ".bias", [outChannels], 0.01);
            int pad = kernel / 2;
            return Node("Conv", [x, prefix + ".weight", prefix + ".bias"], prefix + ".out",
                Ints("kernel_shape", kernel, kernel), Ints("strides", stride, stride), Ints("pads", pad, pad, pad, pad));
        }

        /// <summary>An initializer of normal values with standard deviation <paramref name="deviation"/> (Box-Muller).</summary>
        public void Normal(string name, long[] dims, double deviation)
        {
            long count = dims.Aggregate(1L, (a, d) => a * d);
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

            graph.Initializer.Add(TensorValues.Create<float>(name, dims, values));
        }

        public ModelProto Model(string name, string description, ValueInfoProto input, ValueInfoProto output)
        {
            graph.Name = name;
            graph.Input.Add(input);
            graph.Output.Add(output);
            var model = new ModelProto { IrVersion = 8, ProducerName = "Compression.Benchmarks", DocString = description, Graph = graph };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
            return model;
        }
    }
}
