using Compression.Onnx.Protos;
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
        string x = Relu(b, Conv(b, "stem", "image", 3, 32, 3, 1));
        int channels = 32;
        int[] widths = [32, 64, 128, 256];
        for (int stage = 0; stage < widths.Length; stage++)
        {
            for (int block = 0; block < 2; block++)
            {
                string p = $"stage{stage}.block{block}";
                int stride = stage > 0 && block == 0 ? 2 : 1;
                string h = Relu(b, Conv(b, p + ".conv1", x, channels, widths[stage], 3, stride));
                h = Conv(b, p + ".conv2", h, widths[stage], widths[stage], 3, 1);
                string shortcut = stride == 1 && channels == widths[stage] ? x : Conv(b, p + ".projection", x, channels, widths[stage], 1, stride);
                x = Relu(b, b.Node("Add", [h, shortcut], p + ".residual"));
                channels = widths[stage];
            }
        }

        string pooled = b.Node("Flatten", [b.Node("GlobalAveragePool", [x], "pool")], "flatten");
        b.Normal("head.weight", [100, channels], Math.Sqrt(1.0 / channels));
        b.Normal("head.bias", [100], 0.01);
        b.Node("Gemm", [pooled, "head.weight", "head.bias"], "logits", GraphWriter.Int("transB", 1));
        return b.Model("resnet", "ResNet-style CNN for the quantization benchmark (seeded weights).",
            GraphWriter.Tensor("image", DataType.Float, 1, 3, 64, 64), GraphWriter.Tensor("logits", DataType.Float, 1, 100));
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
                x = Relu(b, x);
            }
        }

        b.Node("Identity", [x], "y");
        return b.Model("large_mlp", $"{layers}-layer MLP of {width} x {width} weights for the quantization benchmark (seeded weights).",
            GraphWriter.Tensor("x", DataType.Float, "batch", width), GraphWriter.Tensor("y", DataType.Float, "batch", width));
    }

    /// <summary>
    /// An MLP over 2 GiB, as large exports write it: <paramref name="layers"/> MatMul weights of <paramref name="width"/> x
    /// <paramref name="width"/> (45 x 4096 x 4096: 3.02 GB) with ReLU between, input <c>x</c> [batch, width], its weights in
    /// <c>&lt;file&gt;.data</c> beside <paramref name="path"/> at 4096-aligned offsets. Each weight is generated and written
    /// in turn, so that building it takes memory for one weight.
    /// </summary>
    public static void WriteHugeMlp(string path, int layers = 45, int width = 4096, int seed = 17)
    {
        var b = new GraphWriter(seed);
        string location = Path.GetFileName(path) + ".data";
        var weights = new List<TensorProto>();
        string x = "x";
        using (var data = new FileStream(Path.Combine(Path.GetDirectoryName(path)!, location), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            for (int layer = 0; layer < layers; layer++)
            {
                float[] values = b.NormalValues((long)width * width, Math.Sqrt(2.0 / width));
                long offset = (data.Position + 4095) / 4096 * 4096;
                data.Write(new byte[offset - data.Position]);
                data.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
                var weight = new TensorProto { Name = $"layer{layer}.weight", DataType = (int)DataType.Float, Dims = { width, width } };
                new Compression.Onnx.ExternalDataReference(location, offset, (long)values.Length * sizeof(float)).ApplyTo(weight);
                weights.Add(weight);
                x = b.Node("MatMul", [x, weight.Name], $"layer{layer}.out");
                if (layer < layers - 1)
                {
                    x = Relu(b, x);
                }
            }
        }

        b.Graph.Initializer.AddRange(weights);
        b.Node("Identity", [x], "y");
        ModelProto model = b.Model("huge_mlp", $"{layers}-layer MLP of {width} x {width} weights in external data for the compression benchmark (seeded weights).",
            GraphWriter.Tensor("x", DataType.Float, "batch", width), GraphWriter.Tensor("y", DataType.Float, "batch", width));
        Compression.Onnx.OnnxModelFile.Save(model, path);
    }

    /// <summary>One MatMul layer with a bias and ReLU: input <c>x</c> [batch, <paramref name="k"/>], weight [k, n].</summary>
    public static ModelProto Layer(int k, int n, int seed = 13)
    {
        var b = new GraphWriter(seed);
        b.Normal("weight", [k, n], Math.Sqrt(2.0 / k));
        b.Normal("bias", [n], 0.01);
        string h = b.Node("Add", [b.Node("MatMul", ["x", "weight"], "product"), "bias"], "sum");
        b.Node("Relu", [h], "y");
        return b.Model($"layer_{k}x{n}", $"One {k} x {n} MatMul layer for the quantization benchmark (seeded weights).",
            GraphWriter.Tensor("x", DataType.Float, "batch", k), GraphWriter.Tensor("y", DataType.Float, "batch", n));
    }

    private static string Relu(GraphWriter b, string x) => b.Node("Relu", [x], x + ".relu");

    private static string Conv(GraphWriter b, string prefix, string x, int inChannels, int outChannels, int kernel, int stride)
    {
        b.Normal(prefix + ".weight", [outChannels, inChannels, kernel, kernel], Math.Sqrt(2.0 / (inChannels * kernel * kernel)));
        b.Normal(prefix + ".bias", [outChannels], 0.01);
        int pad = kernel / 2;
        return b.Node("Conv", [x, prefix + ".weight", prefix + ".bias"], prefix + ".out",
            GraphWriter.Ints("kernel_shape", kernel, kernel), GraphWriter.Ints("strides", stride, stride), GraphWriter.Ints("pads", pad, pad, pad, pad));
    }
}
