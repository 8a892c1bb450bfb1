using Compression.Core.Ir;
using Compression.Core.Passes;
using Compression.Core.Passes.Quantization;
using Compression.Core.Runtime;
using Compression.Core.Settings;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Quantization;

/// <summary>
/// Every form the quantization pass writes, run in ONNX Runtime with its default session options against the original:
/// dynamic MatMulInteger, MatMulNBits (8 and 4 bits, with and without zero points), GatherBlockQuantized, the folded form
/// and the standard DequantizeLinear, over MatMul, Gemm (every transB, alpha, beta and C), Conv and Gather.
/// </summary>
public sealed class QuantizedFormsTests
{
    public static TheoryData<string, string, string> MatrixCases => new()
    {
        // Quantize, QuantizeMode, the operator that replaces MatMul.
        { QuantizationSettings.Int8, QuantizationSettings.Dynamic, "MatMulInteger" },
        { QuantizationSettings.UInt8, QuantizationSettings.Dynamic, "MatMulInteger" },
        { QuantizationSettings.Int8, QuantizationSettings.WeightOnly, "MatMulNBits" },
        { QuantizationSettings.UInt8, QuantizationSettings.WeightOnly, "MatMulNBits" },
        { QuantizationSettings.Int4, QuantizationSettings.Dynamic, "MatMulNBits" },
        { QuantizationSettings.UInt4, QuantizationSettings.WeightOnly, "MatMulNBits" },
    };

    [Theory]
    [MemberData(nameof(MatrixCases))]
    public void MatMul_weights_take_the_fast_form_and_stay_close_to_the_original(string quantize, string mode, string opType)
    {
        ModelProto model = Mlp();
        Quantized result = Quantize(model, Settings(quantize, mode));

        Assert.DoesNotContain(result.Model.Graph.Node, n => n.OpType == "MatMul");
        Assert.Equal(2, result.Model.Graph.Node.Count(n => n.OpType == opType));
        Assert.Empty(result.Pass.SessionConfig);
        Assert.Equal(2, result.Pass.Changed.Count);
        bool zeroPoints = quantize is QuantizationSettings.UInt8 or QuantizationSettings.UInt4;
        if (opType == "MatMulNBits")
        {
            Assert.All(result.Model.Graph.Node.Where(n => n.OpType == opType), n =>
            {
                Assert.Equal(QuantizationSettings.BitsOf(quantize), n.Attribute.Single(a => a.Name == "bits").I);
                Assert.Equal(zeroPoints ? 4 : 3, n.Input.Count);
            });
        }

        double minimumCosine = QuantizationSettings.BitsOf(quantize) == 4 ? 0.99 : 0.999;
        AssertSameOutputs(model, result, Input("x", 3, 5, 64), minimumCosine);
    }

    [Fact]
    public void MatMul_weights_under_the_dynamic_threshold_are_folded_to_float_at_load_and_the_report_says_why()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, 1, 512)
            .Output("y", DataType.Float, 1, 256)
            .Initializer("large", [512, 512], SeededValues.Uniform(3, 512 * 512, 0.05f))
            .Initializer("small", [512, 256], SeededValues.Uniform(4, 512 * 256, 0.05f))
            .Node("MatMul", ["x", "large"], ["h"])
            .Node("MatMul", ["h", "small"], ["y"])
            .Build();

        Quantized result = Quantize(model, CompressionSettings.Default.Set(QuantizationSettings.DynamicThreshold, 512L * 256 + 1));

        Assert.StartsWith("8-bit dynamic MatMulInteger", result.Pass.Changed.Single(c => c.Name == "large").Technique, StringComparison.Ordinal);
        TensorChange small = result.Pass.Changed.Single(c => c.Name == "small");
        Assert.StartsWith("8-bit, folded to float at load", small.Technique, StringComparison.Ordinal);
        Assert.Contains("below the dynamic threshold of 131073 elements", small.Technique, StringComparison.Ordinal);
        Assert.Single(result.Model.Graph.Node, n => n.OpType == "MatMulInteger");
        Assert.Single(result.Model.Graph.Node, n => n.OpType == "MatMul");
        AssertSameOutputs(model, result, Input("x", 1, 512), 0.999);
    }

    [Fact]
    public void Dynamic_MatMuls_that_read_the_same_input_share_one_DynamicQuantizeLinear()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, 4, 64)
            .Output("q", DataType.Float, 4, 32)
            .Output("k", DataType.Float, 4, 32)
            .Initializer("wq", [64, 32], SeededValues.Uniform(1, 64 * 32, 0.1f))
            .Initializer("wk", [64, 32], SeededValues.Uniform(2, 64 * 32, 0.1f))
            .Node("MatMul", ["x", "wq"], ["q"])
            .Node("MatMul", ["x", "wk"], ["k"])
            .Build();

        Quantized result = Quantize(model, Defaults);

        Assert.Single(result.Model.Graph.Node, n => n.OpType == "DynamicQuantizeLinear");
        Assert.Equal(2, result.Model.Graph.Node.Count(n => n.OpType == "MatMulInteger"));
        Assert.Equal(["q", "k"], result.Model.Graph.Output.Select(o => o.Name));
        AssertSameOutputs(model, result, Input("x", 4, 64), 0.999);
    }

    public static TheoryData<long, float, float, string> GemmCases => new()
    {
        // transB, alpha, beta, what C is.
        { 0, 1f, 1f, "bias" },
        { 1, 1f, 1f, "bias" },
        { 1, 0.5f, 2f, "bias" },
        { 0, 1f, 1f, "row" },
        { 1, 2f, 0.25f, "matrix" },
        { 1, 1f, 1f, "none" },
        { 0, 1f, 3f, "input" },
    };

    [Theory]
    [MemberData(nameof(GemmCases))]
    public void Gemm_keeps_its_meaning_in_every_form(long transB, float alpha, float beta, string c)
    {
        float[] weights = SeededValues.Uniform(3, 64 * 32, 0.1f);
        var builder = new ModelBuilder()
            .Input("x", DataType.Float, 4, 64)
            .Output("y", DataType.Float, 4, 32)
            .Initializer("w", transB == 0 ? [64, 32] : [32, 64], weights);
        string[] inputs = c switch
        {
            "bias" => ["x", "w", "c"],
            "row" => ["x", "w", "c"],
            "matrix" => ["x", "w", "c"],
            "input" => ["x", "w", "c"],
            _ => ["x", "w"],
        };
        if (c == "input")
        {
            builder.Input("c", DataType.Float, 4, 32);
        }
        else if (c != "none")
        {
            long[] dims = c switch { "bias" => [32], "row" => [1, 32], _ => [4, 32] };
            builder.Initializer("c", dims, SeededValues.Uniform(4, (int)dims.Aggregate(1L, (a, b) => a * b)));
        }

        ModelProto model = builder.Node("Gemm", inputs, ["y"],
            Attributes.Int("transB", transB), Attributes.Float("alpha", alpha), Attributes.Float("beta", beta)).Build();
        var feeds = new Dictionary<string, OnnxTensor> { ["x"] = Ort.RandomFloats(5, 4, 64) };
        if (c == "input")
        {
            feeds["c"] = Ort.RandomFloats(6, 4, 32);
        }

        foreach ((string quantize, string mode) in new[] { ("int8", "dynamic"), ("int8", "weight-only"), ("uint4", "weight-only") })
        {
            Quantized result = Quantize(model, Settings(quantize, mode));
            Assert.DoesNotContain(result.Model.Graph.Node, n => n.OpType == "Gemm");
            AssertSameOutputs(model, result, feeds, quantize == "uint4" ? 0.99 : 0.999);
        }
    }

    [Fact]
    public void Conv_weights_are_folded_back_to_float_by_ONNX_Runtime_without_session_entries()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, 1, 8, 12, 12)
            .Output("y", DataType.Float, 1, 32, 10, 10)
            .Initializer("w", [32, 8, 3, 3], SeededValues.Uniform(7, 32 * 8 * 9, 0.2f))
            .Initializer("b", [32], SeededValues.Uniform(8, 32))
            .Node("Conv", ["x", "w", "b"], ["y"])
            .Build();

        foreach (string quantize in new[] { "int8", "uint8", "int4" })
        {
            Quantized result = Quantize(model, Settings(quantize, QuantizationSettings.Dynamic));
            Assert.Equal(["Cast", "Mul"], result.Model.Graph.Node.Where(n => n.OpType != "Conv" && n.OpType != "Sub").Select(n => n.OpType));
            Assert.Equal(quantize == "uint8", result.Model.Graph.Node.Any(n => n.OpType == "Sub"));
            Assert.Empty(result.Pass.SessionConfig);
            TensorChange change = Assert.Single(result.Pass.Changed);
            Assert.StartsWith("8-bit, folded to float at load", change.Technique, StringComparison.Ordinal);
            Assert.Equal(quantize == "int4", change.Technique.Contains("no 4-bit kernel", StringComparison.Ordinal));
            AssertSameOutputs(model, result, Input("x", 1, 8, 12, 12), 0.999);
        }
    }

    [Theory]
    [InlineData("int8", 0.999)]
    [InlineData("uint8", 0.999)]
    [InlineData("int4", 0.99)]
    [InlineData("uint4", 0.99)]
    public void Embedding_tables_become_GatherBlockQuantized(string quantize, double minimumCosine)
    {
        ModelProto model = Embedding(width: 64);
        Quantized result = Quantize(model, Settings(quantize, QuantizationSettings.Dynamic));

        NodeProto lookup = Assert.Single(result.Model.Graph.Node, n => n.OpType == "GatherBlockQuantized");
        Assert.Equal("com.microsoft", lookup.Domain);
        Assert.Contains(result.Model.OpsetImport, o => o.Domain == "com.microsoft");
        Assert.DoesNotContain(result.Model.Graph.Node, n => n.OpType == "Gather");
        var feeds = new Dictionary<string, OnnxTensor> { ["ids"] = OnnxTensor.FromArray(new long[] { 0, 5, 99, 42, 7, 5 }, [2, 3]) };
        AssertSameOutputs(model, result, feeds, minimumCosine);
    }

    [Fact]
    public void A_table_whose_width_no_block_divides_is_folded_and_the_report_says_why()
    {
        ModelProto model = Embedding(width: 40);
        Quantized result = Quantize(model, Defaults);

        TensorChange table = result.Pass.Changed.Single(c => c.Name == "table");
        Assert.Contains("no block size of 16 or more divides the table's width", table.Technique, StringComparison.Ordinal);
        Assert.Contains(result.Model.Graph.Node, n => n.OpType == "Gather");
        var feeds = new Dictionary<string, OnnxTensor> { ["ids"] = OnnxTensor.FromArray(new long[] { 0, 5, 99, 42, 7, 5 }, [2, 3]) };
        AssertSameOutputs(model, result, feeds, 0.999);
    }

    [Fact]
    public void Fp16_halves_every_large_float_initializer_widens_it_at_load_and_clamps_what_fp16_cannot_hold()
    {
        float[] table = SeededValues.Uniform(21, 100 * 64);
        table[7] = 1e6f;
        ModelProto model = new ModelBuilder()
            .Input("ids", DataType.Int64, 2, 3)
            .Input("x", DataType.Float, 2, 3, 64)
            .Output("y", DataType.Float, 2, 3, 64)
            .Initializer("table", [100, 64], table)
            .Initializer("scale", [64 * 32], SeededValues.Uniform(23, 64 * 32))
            .Node("Gather", ["table", "ids"], ["embedded"])
            .Node("Reshape", ["scale", "shape"], ["scale2d"])
            .Initializer("shape", [2], new long[] { 32, 64 })
            .Node("ReduceMean", ["scale2d"], ["mean"], Attributes.Ints("axes", 0))
            .Node("Mul", ["embedded", "mean"], ["scaled"])
            .Node("Add", ["scaled", "x"], ["y"])
            .Build();
        Quantized result = Quantize(model, Defaults.Set(QuantizationSettings.Quantize, QuantizationSettings.Fp16));

        // Both the Gather table and the initializer a Reshape reads (no weight slot) become fp16 behind a Cast.
        Assert.Equal(["table", "scale"], result.Pass.Changed.Select(c => c.Name));
        Assert.All(result.Pass.Changed, c => Assert.StartsWith("fp16, widened to float at load", c.Technique, StringComparison.Ordinal));
        Assert.Equal(2, result.Model.Graph.Node.Count(n => n.OpType == "Cast"));
        Assert.Equal(2, result.Model.Graph.Initializer.Count(t => t.DataType == (int)DataType.Float16));
        Assert.Empty(result.Pass.SessionConfig);
        Assert.All(result.Pass.Changed, c => Assert.Equal(c.BytesBefore / 2, c.BytesAfter));

        var feeds = new Dictionary<string, OnnxTensor>
        {
            ["ids"] = OnnxTensor.FromArray(new long[] { 0, 5, 99, 42, 7, 5 }, [2, 3]),
            ["x"] = Ort.RandomFloats(24, 2, 3, 64),
        };
        IReadOnlyDictionary<string, OnnxTensor> expected = Ort.Run(OnnxModelFile.ToBytes(model), feeds);
        IReadOnlyDictionary<string, OnnxTensor> actual = Ort.Run(OnnxModelFile.ToBytes(result.Model), feeds);
        ReadOnlySpan<float> e = expected["y"].As<float>().Span;
        ReadOnlySpan<float> a = actual["y"].As<float>().Span;
        for (int i = 0; i < e.Length; i++)
        {
            // Within fp16's precision, except the clamped element (row 0, column 7: ids 0 reads it), which is finite.
            double allowed = Math.Abs(e[i]) > 1000 ? Math.Abs(e[i]) : 2e-3 * (1 + Math.Abs(e[i]));
            Assert.True(float.IsFinite(a[i]) && Math.Abs(e[i] - a[i]) <= allowed, $"element {i}: {a[i]} against {e[i]}");
        }
    }

    [Fact]
    public void StandardOps_writes_DequantizeLinear_and_asks_for_the_session_entry()
    {
        ModelProto model = Mlp();
        Quantized result = Quantize(model, Defaults.Set(QuantizationSettings.StandardOps, true));

        Assert.Equal(2, result.Model.Graph.Node.Count(n => n.OpType == "DequantizeLinear"));
        Assert.Equal("1", result.Pass.SessionConfig[WeightQuantizationPass.DisableQdqConfigKey]);
        AssertSameOutputs(model, result, Input("x", 3, 5, 64), 0.999);
    }

    [Theory]
    [InlineData(QuantizationSettings.Int4)]
    [InlineData(QuantizationSettings.UInt4)]
    public void StandardOps_with_4_bits_writes_blocked_DequantizeLinear_in_the_layout_ONNX_Runtime_fuses_into_MatMulNBits(string quantize)
    {
        // MatMul [K, N] (blocks along axis 0, which ONNX Runtime fuses), Gemm with transB [N, K] (blocks along axis 1) and a
        // Conv (one scale per output channel), at opset 17.
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, 2, 4, 8, 8)
            .Output("y", DataType.Float, 2, 10)
            .Initializer("conv", [16, 4, 3, 3], SeededValues.Uniform(41, 16 * 4 * 9, 0.2f))
            .Initializer("w1", [1024, 64], SeededValues.Uniform(42, 1024 * 64, 0.05f))
            .Initializer("w2", [10, 64], SeededValues.Uniform(43, 10 * 64, 0.2f))
            .Node("Conv", ["x", "conv"], ["c"], Attributes.Ints("pads", 1, 1, 1, 1))
            .Node("Relu", ["c"], ["r"])
            .Node("Flatten", ["r"], ["f"])
            .Node("MatMul", ["f", "w1"], ["h"])
            .Node("Gemm", ["h", "w2"], ["y"], Attributes.Int("transB", 1))
            .Build();

        Quantized result = Quantize(model, Defaults.Set(QuantizationSettings.StandardOps, true).Set(QuantizationSettings.Quantize, quantize)
            .Set(QuantizationSettings.WeightThreshold, 0L));

        Assert.Equal(21, result.Model.OpsetImport.Single(o => o.Domain.Length == 0).Version);
        Assert.True(result.Model.IrVersion >= 10, $"IR version {result.Model.IrVersion}");
        DataType levels = quantize == QuantizationSettings.Int4 ? DataType.Int4 : DataType.Uint4;
        NodeProto Dequantize(string weight) => result.Model.Graph.Node.Single(n => n.OpType == "DequantizeLinear" && n.Output[0] == weight);
        Assert.Equal((0L, 32L), (Dequantize("w1").Attribute.Single(a => a.Name == "axis").I, Dequantize("w1").Attribute.Single(a => a.Name == "block_size").I));
        Assert.Equal((1L, 32L), (Dequantize("w2").Attribute.Single(a => a.Name == "axis").I, Dequantize("w2").Attribute.Single(a => a.Name == "block_size").I));
        Assert.Equal([0L], Dequantize("conv").Attribute.Select(a => a.I));
        Assert.Equal([32L, 64L], result.Model.Graph.Initializer.Single(t => t.Name == Dequantize("w1").Input[1]).Dims);
        Assert.All(result.Model.Graph.Node.Where(n => n.OpType == "DequantizeLinear"),
            n => Assert.Equal((int)levels, result.Model.Graph.Initializer.Single(t => t.Name == n.Input[0]).DataType));
        Assert.Equal(quantize == QuantizationSettings.UInt4 ? 3 : 0, result.Model.Graph.Node.Count(n => n.OpType == "DequantizeLinear" && n.Input.Count == 3));
        TensorChange w1 = result.Pass.Changed.Single(c => c.Name == "w1");
        Assert.StartsWith($"{quantize} DequantizeLinear", w1.Technique, StringComparison.Ordinal);
        Assert.True(w1.BytesAfter <= 0.165 * w1.BytesBefore, $"{w1.BytesAfter} of {w1.BytesBefore} bytes");
        Assert.Equal("1", result.Pass.SessionConfig[WeightQuantizationPass.DisableQdqConfigKey]);
        // Uniform random weights, 4 bits, and a Conv with one scale per channel: the hardest case for 4 bits.
        AssertSameOutputs(model, result, Input("x", 2, 4, 8, 8), 0.98);

        // The layout is the one ONNX Runtime fuses into MatMulNBits: with its default options (no session entry) it does so for
        // the MatMul, which no Relu follows.
        using var folder = new TemporaryFolder();
        string optimized = folder.File("optimized.onnx");
        File.WriteAllBytes(folder.File("model.onnx"), OnnxModelFile.ToBytes(result.Model));
        using (var options = new Microsoft.ML.OnnxRuntime.SessionOptions { OptimizedModelFilePath = optimized })
        using (var session = new Microsoft.ML.OnnxRuntime.InferenceSession(folder.File("model.onnx"), options))
        {
        }

        Assert.Single(OnnxModelFile.Load(optimized).Graph.Node, n => n.OpType == "MatMulNBits");
    }

    [Theory]
    [InlineData("auto", 4, 64, 32)]
    [InlineData("auto", 4, 16, 16)]
    [InlineData("auto", 8, 64, 64)]
    [InlineData("auto", 8, 256, 128)]
    [InlineData("auto", 8, 4096, 128)]
    [InlineData("auto", 8, 48, 16)]
    [InlineData("64", 8, 4096, 64)]
    [InlineData("16", 4, 4096, 16)]
    public void BlockSize_auto_is_32_for_4_bits_and_the_fewest_bytes_up_to_128_for_8_bits(string setting, int bits, long length, int expected)
    {
        long value = (long)QuantizationSettings.BlockSize.Parse(setting);

        Assert.Equal(expected, QuantizationSettings.BlockSizeFor(value, bits, length));
    }

    [Theory]
    [InlineData("48")]
    [InlineData("8")]
    [InlineData("512")]
    public void A_block_size_that_is_not_a_power_of_two_from_16_to_256_is_refused(string text)
    {
        FormatException error = Assert.Throws<FormatException>(() => QuantizationSettings.BlockSize.Parse(text));
        Assert.Contains("a power of two from 16 to 256", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_float_initializer_left_float_is_in_the_report_with_its_reason()
    {
        Quantized result = Quantize(Mlp(), Defaults);

        TensorLeftAlone bias = Assert.Single(result.Pass.LeftAlone, s => s.Name == "b1");
        Assert.Equal("32 elements, below the weight threshold of 1024", bias.Reason);
        Assert.Equal("Add", bias.OpType);
    }

    [Fact]
    public void The_same_model_and_settings_give_the_same_bytes()
    {
        foreach (string quantize in new[] { "int8", "uint4" })
        {
            byte[] first = OnnxModelFile.ToBytes(Quantize(Mlp(), Settings(quantize, "weight-only")).Model);
            byte[] second = OnnxModelFile.ToBytes(Quantize(Mlp(), Settings(quantize, "weight-only")).Model);
            Assert.Equal(first, second);
        }
    }

    /// <summary>x [batch, seq, 64] -> MatMul [64, 32] -> Add -> Relu -> MatMul [32, 48].</summary>
    private static ModelProto Mlp() => new ModelBuilder()
        .Input("x", DataType.Float, "batch", "sequence", 64)
        .Output("y", DataType.Float, "batch", "sequence", 48)
        .Initializer("w1", [64, 32], SeededValues.Uniform(11, 64 * 32, 0.2f))
        .Initializer("b1", [32], SeededValues.Uniform(12, 32, 0.1f))
        .Initializer("w2", [32, 48], SeededValues.Uniform(13, 32 * 48, 0.2f))
        .Node("MatMul", ["x", "w1"], ["h"])
        .Node("Add", ["h", "b1"], ["hb"])
        .Node("Relu", ["hb"], ["r"])
        .Node("MatMul", ["r", "w2"], ["y"])
        .Build();

    /// <summary>ids [2, 3] -> Gather from a [100, width] table -> MatMul [width, 16].</summary>
    private static ModelProto Embedding(int width) => new ModelBuilder()
        .Input("ids", DataType.Int64, 2, 3)
        .Output("y", DataType.Float, 2, 3, 16)
        .Initializer("table", [100, width], SeededValues.Uniform(21, 100 * width))
        .Initializer("w", [width, 16], SeededValues.Uniform(22, width * 16, 0.3f))
        .Node("Gather", ["table", "ids"], ["embedded"])
        .Node("MatMul", ["embedded", "w"], ["y"])
        .Build();

    /// <summary>
    /// The defaults with every MatMul and Gemm weight dynamic however small: these test models' weights are under the dynamic
    /// threshold, which would fold them.
    /// </summary>
    private static CompressionSettings Defaults { get; } = CompressionSettings.Default.Set(QuantizationSettings.DynamicThreshold, 0L);

    private static CompressionSettings Settings(string quantize, string mode) =>
        Defaults.Set(QuantizationSettings.Quantize, quantize).Set(QuantizationSettings.QuantizeMode, mode);

    private static Dictionary<string, OnnxTensor> Input(string name, params long[] shape) => new() { [name] = Ort.RandomFloats(31, shape) };

    private static Quantized Quantize(ModelProto original, CompressionSettings settings)
    {
        ModelProto copy = original.Clone();
        Model ir = Model.FromProto(copy);
        var context = new PassContext(ir, SettingsResolver.Resolve(settings, "test.onnx"), "test.onnx");
        PipelineResult pipeline = CompressionPipeline.Run(context, [new WeightQuantizationPass()]);
        return new Quantized(ir.ToProto(), pipeline.Passes[0]);
    }

    /// <summary>Runs both models with ONNX Runtime's default options (and the pass's session entries) and compares every output.</summary>
    private static void AssertSameOutputs(ModelProto original, Quantized result, IReadOnlyDictionary<string, OnnxTensor> inputs, double minimumCosine)
    {
        IReadOnlyDictionary<string, OnnxTensor> expected = Ort.Run(OnnxModelFile.ToBytes(original), inputs);
        IReadOnlyDictionary<string, OnnxTensor> actual = Ort.Run(OnnxModelFile.ToBytes(result.Model), inputs, result.Pass.SessionConfig);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach ((string name, OnnxTensor tensor) in expected)
        {
            Assert.Equal(tensor.Shape.ToArray(), actual[name].Shape.ToArray());
            double cosine = Ort.Cosine(tensor.As<float>().Span, actual[name].As<float>().Span);
            Assert.True(cosine > minimumCosine, $"Output '{name}': cosine {cosine} is not above {minimumCosine}.");
        }
    }

    private sealed record Quantized(ModelProto Model, PassResult Pass);
}
