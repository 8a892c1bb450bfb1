using Compression.Core.Ir;
using Compression.Core.Passes;
using Compression.Core.Passes.LowRank;
using Compression.Core.Runtime;
using Compression.Core.Settings;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.LowRank;

/// <summary>The low-rank pass on models built here and on the digits models, run in ONNX Runtime.</summary>
public sealed class LowRankPassTests
{
    [Fact]
    public void A_weight_of_rank_r_is_reproduced_with_rank_r_when_the_budget_allows_it()
    {
        const int k = 256, n = 192, r = 12;
        float[] w = MatrixProduct.Multiply(SeededValues.Uniform(1, k * r), SeededValues.Uniform(2, r * n, 0.1f), k, r, n);
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", k)
            .Initializer("w", [k, n], w)
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", DataType.Float, "batch", n)
            .Build();

        (ModelProto factorized, PassResult result) = Run(model, 0.5);

        TensorChange change = Assert.Single(result.Changed);
        Assert.Equal("w", change.Name);
        Assert.StartsWith($"rank {r} of {n}", change.Technique, StringComparison.Ordinal);
        Assert.Equal((long)k * n * 4, change.BytesBefore);
        Assert.Equal((long)r * (k + n) * 4, change.BytesAfter);
        Assert.Equal(["MatMul", "MatMul"], factorized.Graph.Node.Select(x => x.OpType));
        AssertSameOutputs(model, factorized, Ort.RandomFloats(3, 8, k), maxRelativeError: 1e-4);
    }

    [Fact]
    public void The_parameters_kept_match_the_budget_and_the_output_error_follows_the_energy_lost()
    {
        const int k = 300, n = 200;
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", k)
            .Initializer("w", [k, n], SeededValues.Uniform(4, k * n))
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", DataType.Float, "batch", n)
            .Build();

        (ModelProto factorized, PassResult result) = Run(model, 0.4);

        TensorChange change = Assert.Single(result.Changed);
        long budget = (long)(0.4 * k * n);
        long kept = change.BytesAfter / 4;
        Assert.InRange(kept, budget - (k + n) + 1, budget);
        Assert.Equal(kept, factorized.Graph.Initializer.Sum(t => t.Dims.Aggregate(1L, (a, b) => a * b)));
        Assert.Single(result.Techniques);
        Assert.Contains("Low-rank factorization: 1 MatMul weight (60,000 parameters)", result.Techniques[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 0, false, 1f, 1f)]
    [InlineData(0, 1, true, 1f, 1f)]
    [InlineData(0, 1, true, 0.5f, 2f)]
    [InlineData(1, 0, true, 1.5f, 0.25f)]
    public void Gemm_keeps_transA_transB_bias_alpha_and_beta(int transA, int transB, bool bias, float alpha, float beta)
    {
        const int k = 160, n = 128, r = 20;
        float[] w = MatrixProduct.Multiply(SeededValues.Uniform(5, k * r), SeededValues.Uniform(6, r * n, 0.1f), k, r, n);
        float[] stored = transB == 1 ? MatrixProduct.Transpose(w, k, n) : w;
        var builder = new ModelBuilder()
            .Input("x", DataType.Float, transA == 1 ? [k, 6] : [6, k])
            .Initializer("b", transB == 1 ? [n, k] : [k, n], stored);
        string[] inputs = ["x", "b"];
        if (bias)
        {
            builder.Initializer("c", [n], SeededValues.Uniform(7, n));
            inputs = ["x", "b", "c"];
        }

        ModelProto model = builder
            .Node("Gemm", inputs, ["y"], Attributes.Int("transA", transA), Attributes.Int("transB", transB), Attributes.Float("alpha", alpha), Attributes.Float("beta", beta))
            .Output("y", DataType.Float, 6, n)
            .Build();

        (ModelProto factorized, PassResult result) = Run(model, 0.5);

        Assert.StartsWith($"rank {r} of", Assert.Single(result.Changed).Technique, StringComparison.Ordinal);
        Assert.Equal([transA == 1 ? "Gemm" : "MatMul", "Gemm"], factorized.Graph.Node.Select(x => x.OpType));
        Assert.Equal("Gemm_y", factorized.Graph.Node[1].Name);
        AssertSameOutputs(model, factorized, Ort.RandomFloats(8, transA == 1 ? [k, 6] : [6, k]), maxRelativeError: 1e-4);
    }

    [Theory]
    [InlineData(1, 1, 0)]
    [InlineData(2, 1, 1)]
    [InlineData(2, 2, 0)]
    public void Conv_becomes_a_convolution_to_r_channels_and_a_1x1_one_with_the_same_strides_pads_and_dilations(int stride, int pad, int dilation)
    {
        const int o = 64, c = 32, r = 10;
        // [O, C*3*3] of rank r.
        float[] w = MatrixProduct.Multiply(SeededValues.Uniform(9, o * r), SeededValues.Uniform(10, r * c * 9, 0.1f), o, r, c * 9);
        var attributes = new List<AttributeProto> { Attributes.Ints("strides", stride, stride), Attributes.Ints("pads", pad, pad, pad, pad) };
        if (dilation > 0)
        {
            attributes.Add(Attributes.Ints("dilations", 2, 2));
        }

        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, 2, c, 15, 13)
            .Initializer("w", [o, c, 3, 3], w)
            .Initializer("bias", [o], SeededValues.Uniform(11, o))
            .Node("Conv", ["x", "w", "bias"], ["y"], [.. attributes])
            .Output("y", DataType.Float, null)
            .Build();

        (ModelProto factorized, PassResult result) = Run(model, 0.5);

        Assert.StartsWith($"rank {r} of {o}", Assert.Single(result.Changed).Technique, StringComparison.Ordinal);
        Assert.Equal(["Conv", "Conv"], factorized.Graph.Node.Select(x => x.OpType));
        Assert.Equal([r, c, 3, 3], factorized.Graph.Initializer.Single(t => t.Name == "w_lowrank_a").Dims);
        Assert.Equal([o, r, 1, 1], factorized.Graph.Initializer.Single(t => t.Name == "w_lowrank_b").Dims);
        AssertSameOutputs(model, factorized, Ort.RandomFloats(12, 2, c, 15, 13), maxRelativeError: 1e-4);
    }

    [Fact]
    public void Layers_that_would_not_pay_shared_weights_and_weights_computed_at_run_time_are_left_alone_with_the_reason()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", 64)
            .Input("v", DataType.Float, 64, 64)
            .Initializer("small", [64, 64], SeededValues.Uniform(13, 64 * 64))
            .Initializer("shared", [64, 512], SeededValues.Uniform(14, 64 * 512))
            .Initializer("thin", [4096, 4], SeededValues.Uniform(15, 4096 * 4))
            .Node("MatMul", ["x", "small"], ["a"])
            .Node("MatMul", ["a", "v"], ["b"])
            .Node("MatMul", ["b", "shared"], ["c"])
            .Node("MatMul", ["a", "shared"], ["d"])
            .Output("c", DataType.Float, "batch", 512)
            .Output("d", DataType.Float, "batch", 512)
            .Build();

        (ModelProto factorized, PassResult result) = Run(model, 0.5);

        Assert.Empty(result.Changed);
        Assert.False(result.Modified);
        Assert.Equal(OnnxModelFile.ToBytes(model), OnnxModelFile.ToBytes(factorized));
        Assert.Contains(result.LeftAlone, x => x.Name == "small" && x.Reason.Contains("below the 16384", StringComparison.Ordinal));
        Assert.Contains(result.LeftAlone, x => x.Name == "v" && x.Reason.Contains("computed at run time", StringComparison.Ordinal));
        Assert.Contains(result.LeftAlone, x => x.Name == "shared" && x.Reason.Contains("shared weight", StringComparison.Ordinal));
    }

    [Fact]
    public void A_matrix_too_thin_to_pay_is_left_alone_and_budget_left_over_keeps_a_layer_whole_rather_than_factorize_it_at_a_loss()
    {
        // One layer of rank 5 and one random one: the first needs rank 5 only; the second would pay only up to rank 89 (70%
        // of its parameters), where it still loses energy, and the budget left covers it whole.
        float[] lowRank = MatrixProduct.Multiply(SeededValues.Uniform(16, 256 * 5), SeededValues.Uniform(17, 5 * 256), 256, 5, 256);
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", 256)
            .Initializer("low", [256, 256], lowRank)
            .Initializer("random", [256, 256], SeededValues.Uniform(18, 256 * 256))
            .Node("MatMul", ["x", "low"], ["h"])
            .Node("MatMul", ["h", "random"], ["y"])
            .Output("y", DataType.Float, "batch", 256)
            .Build();

        (ModelProto factorized, PassResult result) = Run(model, 0.85);

        Assert.StartsWith("rank 5 of 256", Assert.Single(result.Changed, x => x.Name == "low").Technique, StringComparison.Ordinal);
        Assert.Contains("kept whole", Assert.Single(result.LeftAlone, x => x.Name == "random").Reason, StringComparison.Ordinal);
        Assert.Contains(factorized.Graph.Initializer, t => t.Name == "random");
        AssertSameOutputs(model, factorized, Ort.RandomFloats(19, 4, 256), maxRelativeError: 1e-4);

        ModelProto thin = new ModelBuilder()
            .Input("x", DataType.Float, "batch", 16384)
            .Initializer("thin", [16384, 1], SeededValues.Uniform(20, 16384))
            .Node("MatMul", ["x", "thin"], ["y"])
            .Output("y", DataType.Float, "batch", 1)
            .Build();
        (_, PassResult thinResult) = Run(thin, 0.5);
        Assert.Contains("no rank makes two thinner layers smaller", Assert.Single(thinResult.LeftAlone).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Weights_with_NaN_and_graph_inputs_with_defaults_are_left_alone_and_a_weight_in_a_subgraph_is_factorized()
    {
        float[] nan = SeededValues.Uniform(21, 256 * 256);
        nan[77] = float.NaN;
        float[] inner = MatMulOfRank(22, 256, 128, 6);
        GraphProto branch = new GraphBuilder("then")
            .Initializer("inner", [256, 128], inner)
            .Node("MatMul", ["x", "inner"], ["t"])
            .Output("t", DataType.Float, "batch", 128)
            .BuildGraph();
        GraphProto other = new GraphBuilder("else")
            .Node("MatMul", ["x", "outer"], ["e"])
            .Output("e", DataType.Float, "batch", 128)
            .BuildGraph();
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", 256)
            .Input("flag", DataType.Bool)
            .Input("input_weight", DataType.Float, 256, 256)
            .Initializer("nan", [256, 256], nan)
            .Initializer("input_weight", [256, 256], SeededValues.Uniform(23, 256 * 256))
            .Initializer("outer", [256, 128], MatMulOfRank(24, 256, 128, 6))
            .Node("MatMul", ["x", "nan"], ["a"])
            .Node("MatMul", ["x", "input_weight"], ["b"])
            .Node("If", ["flag"], ["y"], Attributes.Subgraph("then_branch", branch), Attributes.Subgraph("else_branch", other))
            .Output("a", DataType.Float, "batch", 256)
            .Output("b", DataType.Float, "batch", 256)
            .Output("y", DataType.Float, "batch", 128)
            .Build();

        (ModelProto factorized, PassResult result) = Run(model, 0.5);

        Assert.Contains("NaN", Assert.Single(result.LeftAlone, x => x.Name == "nan").Reason, StringComparison.Ordinal);
        Assert.Contains("graph input", Assert.Single(result.LeftAlone, x => x.Name == "input_weight").Reason, StringComparison.Ordinal);
        Assert.Equal(["inner", "outer"], result.Changed.Select(x => x.Name).Order(StringComparer.Ordinal));
        Assert.All(result.Changed, x => Assert.StartsWith("rank 6 of 128", x.Technique, StringComparison.Ordinal));
        foreach (bool flag in new[] { true, false })
        {
            var inputs = new Dictionary<string, OnnxTensor>
            {
                ["x"] = Ort.RandomFloats(25, 3, 256),
                ["flag"] = OnnxTensor.FromArray(new[] { flag }, []),
            };
            OnnxTensor expected = Ort.Run(OnnxModelFile.ToBytes(model), inputs)["y"];
            OnnxTensor actual = Ort.Run(OnnxModelFile.ToBytes(factorized), inputs)["y"];
            Assert.True(Ort.MaxAbsDifference(expected.As<float>().Span, actual.As<float>().Span) < 1e-3);
        }
    }

    private static float[] MatMulOfRank(int seed, int k, int n, int r) =>
        MatrixProduct.Multiply(SeededValues.Uniform(seed, k * r), SeededValues.Uniform(seed + 100, r * n, 0.1f), k, r, n);

    [Fact]
    public void With_LowRank_off_the_pass_changes_and_reports_nothing()
    {
        ModelProto model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(RepositoryPaths.DigitsModel));
        (ModelProto after, PassResult result) = Run(model, double.NaN);
        Assert.Equal(OnnxModelFile.ToBytes(model), OnnxModelFile.ToBytes(after));
        Assert.False(result.Modified);
        Assert.Empty(result.Changed);
        Assert.Empty(result.LeftAlone);
        Assert.Empty(result.Techniques);
    }

    [Fact]
    public void The_same_model_and_settings_give_byte_identical_output()
    {
        ModelProto model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(RepositoryPaths.DigitsCnnModel));
        (ModelProto first, _) = Run(model, 0.5);
        (ModelProto second, _) = Run(model, 0.5);
        Assert.Equal(OnnxModelFile.ToBytes(first), OnnxModelFile.ToBytes(second));
    }

    [Fact]
    public void The_digits_MLP_keeping_half_its_parameters_runs_in_ONNX_Runtime_and_stays_accurate()
    {
        ModelProto model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(RepositoryPaths.DigitsModel));
        (ModelProto factorized, PassResult result) = Run(model, 0.5);

        DigitsTestSet test = DigitsTestSet.Load();
        double original = Accuracy(model, test), after = Accuracy(factorized, test);
        Assert.NotEmpty(result.Changed);
        Assert.True(after >= original - 0.05, $"accuracy {after:P1} against {original:P1}");
        Assert.Contains(result.LeftAlone, x => x.Reason.Contains("below the 16384", StringComparison.Ordinal));
    }

    [Fact]
    public void The_digits_CNN_factorizes_its_Conv_and_Gemm_layers_and_keeps_its_outputs()
    {
        ModelProto model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(RepositoryPaths.DigitsCnnModel));
        (ModelProto factorized, PassResult result) = Run(model, 0.5);

        Assert.Contains(result.Changed, x => x.OpTypes.Contains("Conv"));
        Assert.Contains(result.Changed, x => x.OpTypes.Contains("Gemm"));
        DigitsTestSet test = DigitsTestSet.Load();
        double original = Accuracy(model, test), after = Accuracy(factorized, test);
        Assert.True(after >= original - 0.1, $"accuracy {after:P1} against {original:P1}");
    }

    internal static (ModelProto Model, PassResult Result) Run(ModelProto model, double kept, CompressionSettings? settings = null)
    {
        ModelProto copy = model.Clone();
        Model ir = Model.FromProto(copy);
        settings ??= CompressionSettings.Default;
        if (!double.IsNaN(kept))
        {
            settings = settings.Set(LowRankSettings.LowRank, kept);
        }

        var context = new PassContext(ir, SettingsResolver.Resolve(settings, "test.onnx"), "test.onnx");
        PassResult result = new LowRankPass().Run(context);
        return (ir.ToProto(), result);
    }

    internal static double Accuracy(ModelProto model, DigitsTestSet test)
    {
        using var session = new OnnxSession(OnnxModelFile.ToBytes(model), Ort.Options());
        return test.Accuracy(session);
    }

    private static void AssertSameOutputs(ModelProto original, ModelProto factorized, OnnxTensor<float> input, double maxRelativeError)
    {
        var inputs = new Dictionary<string, OnnxTensor> { ["x"] = input };
        OnnxTensor expected = Ort.Run(OnnxModelFile.ToBytes(original), inputs)["y"];
        OnnxTensor actual = Ort.Run(OnnxModelFile.ToBytes(factorized), inputs)["y"];
        Assert.Equal(expected.Shape.ToArray(), actual.Shape.ToArray());
        ReadOnlySpan<float> e = expected.As<float>().Span, a = actual.As<float>().Span;
        double scale = 0;
        foreach (float value in e)
        {
            scale = Math.Max(scale, Math.Abs(value));
        }

        double difference = Ort.MaxAbsDifference(e, a);
        Assert.True(difference <= maxRelativeError * scale, $"largest difference {difference} against outputs up to {scale}");
    }
}
