using Compression.Core.Ir;
using Compression.Core.Passes;
using Compression.Core.Passes.Clustering;
using Compression.Core.Passes.Quantization;
using Compression.Core.Runtime;
using Compression.Core.Settings;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Clustering;

/// <summary>The clustering pass on small models run in ONNX Runtime, read back after ONNX Runtime folded the codebooks.</summary>
public sealed class ClusteringPassTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    public static TheoryData<string, int, string> Layers() => new()
    {
        { "MatMul", 4, ClusteringSettings.PerTensor },
        { "MatMul", 3, ClusteringSettings.PerChannel },
        { "Gemm", 2, ClusteringSettings.PerTensor },
        { "Gemm", 5, ClusteringSettings.PerChannel },
        { "Conv", 4, ClusteringSettings.PerTensor },
        { "Conv", 1, ClusteringSettings.PerChannel },
        { "MatMul", 8, ClusteringSettings.PerTensor },
    };

    [Theory]
    [MemberData(nameof(Layers))]
    public void ONNX_Runtime_folds_the_codes_to_at_most_2B_values_per_codebook_and_the_model_runs_as_the_clustered_floats_do(string op, int bits, string granularity)
    {
        (ModelProto original, Dictionary<string, OnnxTensor> inputs, int axis) = Layer(op);
        (ModelProto clustered, PassResult pass) = Cluster(original, Settings(bits, granularity));

        TensorChange change = Assert.Single(pass.Changed);
        Assert.Equal("w", change.Name);
        Assert.Contains($"clustered to {1 << bits} values ({bits}-bit codes)", change.Technique, StringComparison.Ordinal);
        Assert.Single(pass.Techniques);
        // B bits per value, plus the codebook (2^B floats per codebook; an int32 offset per channel) and a few constants.
        long codebooks = granularity == ClusteringSettings.PerChannel ? change.Shape[axis] : 1;
        long bound = ((change.Elements * bits) + 7) / 8 + (codebooks * ((4L << bits) + (codebooks > 1 ? 4 : 0))) + 100;
        Assert.InRange(change.BytesAfter, bound - 100, bound);

        // What ONNX Runtime made of the model: the expansion folded into one float initializer named after the weight.
        float[] folded = FoldedWeight(clustered, inputs, out IReadOnlyList<string> opTypes);
        Assert.DoesNotContain("Gather", opTypes);
        Assert.DoesNotContain("BitShift", opTypes);

        float[] weight = original.Graph.Initializer.Single(t => t.Name == "w").View<float>().Span.ToArray();
        long[] dims = [.. original.Graph.Initializer.Single(t => t.Name == "w").Dims];
        foreach (float[] row in Rows(folded, dims, granularity == ClusteringSettings.PerChannel ? axis : -1))
        {
            Assert.InRange(row.Distinct().Count(), 1, 1 << bits);
        }

        // The same clustering computed here, written into the original as floats, runs as the compressed model does.
        float[] expected = Clustered(weight, dims, bits, granularity == ClusteringSettings.PerChannel ? axis : -1);
        Assert.Equal(expected, folded);
        Assert.Equal(change.MaxAbsError, weight.Zip(expected, (a, b) => Math.Abs((double)a - b)).Max(), 6);
        ModelProto reference = original.Clone();
        TensorProto replaced = reference.Graph.Initializer.Single(t => t.Name == "w");
        replaced.RawData = TensorValues.Create<float>("w", dims, expected).RawData;
        IReadOnlyDictionary<string, OnnxTensor> want = Ort.Run(OnnxModelFile.ToBytes(reference), inputs);
        IReadOnlyDictionary<string, OnnxTensor> got = Ort.Run(OnnxModelFile.ToBytes(clustered), inputs);
        Assert.True(Ort.MaxAbsDifference(want["y"].As<float>().Span, got["y"].As<float>().Span) < 1e-4);

        // And it still computes what the original does, roughly: more bits, closer.
        IReadOnlyDictionary<string, OnnxTensor> before = Ort.Run(OnnxModelFile.ToBytes(original), inputs);
        double cosine = Ort.Cosine(before["y"].As<float>().Span, got["y"].As<float>().Span);
        Assert.True(cosine > (bits >= 4 ? 0.99 : bits >= 2 ? 0.9 : 0.5), $"cosine {cosine}");
    }

    [Theory]
    [InlineData(ClusteringSettings.PerTensor, 4)]
    [InlineData(ClusteringSettings.PerChannel, 2)]
    [InlineData(ClusteringSettings.PerTensor, 1)]
    public void Pruned_zeros_stay_exactly_zero_and_nothing_else_becomes_zero(string granularity, int bits)
    {
        (ModelProto original, Dictionary<string, OnnxTensor> inputs, int _) = Layer("MatMul");
        TensorProto w = original.Graph.Initializer.Single(t => t.Name == "w");
        float[] values = w.View<float>().Span.ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = i % 10 < 7 ? 0f : values[i];
        }

        w.RawData = TensorValues.Create<float>("w", [.. w.Dims], values).RawData;
        (ModelProto clustered, PassResult pass) = Cluster(original, Settings(bits, granularity));

        float[] folded = FoldedWeight(clustered, inputs, out _);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal(values[i] == 0f, folded[i] == 0f);
        }

        TensorChange change = Assert.Single(pass.Changed);
        Assert.Equal(0.7, change.Sparsity, 3);
        Assert.EndsWith(", zeros kept", change.Technique, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_model_and_settings_give_the_same_bytes()
    {
        (ModelProto original, _, _) = Layer("Gemm");
        byte[] first = OnnxModelFile.ToBytes(Cluster(original, Settings(4, ClusteringSettings.PerChannel)).Model);
        byte[] second = OnnxModelFile.ToBytes(Cluster(original, Settings(4, ClusteringSettings.PerChannel)).Model);
        Assert.Equal(first, second);
    }

    [Fact]
    public void With_clustering_off_the_pass_changes_and_reports_nothing()
    {
        (ModelProto original, _, _) = Layer("MatMul");
        Model ir = Model.FromProto(original.Clone());
        var context = new PassContext(ir, SettingsResolver.Resolve(CompressionSettings.Default.Set(QuantizationSettings.WeightThreshold, 0L), "test.onnx"), "test.onnx");
        PassResult pass = new ClusteringPass().Run(context);
        Assert.False(pass.Modified);
        Assert.Empty(pass.Changed);
        Assert.Empty(pass.LeftAlone);
        Assert.Empty(pass.Techniques);
        Assert.Equal(OnnxModelFile.ToBytes(original), OnnxModelFile.ToBytes(ir.ToProto()));

        // The pipeline leaves a pass that reported nothing out of its result (and so out of the report).
        Assert.Empty(CompressionPipeline.Run(new PassContext(Model.FromProto(original.Clone()), context.Settings, "test.onnx"), [new ClusteringPass()]).Passes);
        Assert.Equal(0, new ClusteringPass().RequiredOpset(new PassContext(Model.FromProto(original.Clone()), SettingsResolver.Resolve(CompressionSettings.Default, "test.onnx"), "test.onnx")));
    }

    [Fact]
    public void Weights_it_cannot_cluster_are_left_alone_with_reasons()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, 2, 64)
            .Input("v", DataType.Float, 64, 8)
            .Output("y", DataType.Float, 2, 8)
            .Output("z", DataType.Float, 2, 8)
            .Output("s", DataType.Float, 64, 8)
            .Initializer("w", [64, 8], SeededValues.Uniform(3, 512))
            .Initializer("tiny", [8, 8], SeededValues.Uniform(4, 64))
            .Node("MatMul", ["x", "w"], ["h"])
            .Node("MatMul", ["h", "tiny"], ["y"])
            .Node("MatMul", ["x", "v"], ["z"])
            .Node("Add", ["w", "w"], ["s"])
            .Build();
        (ModelProto after, PassResult pass) = Cluster(model, CompressionSettings.Default.Set(ClusteringSettings.Cluster, 4L).Set(QuantizationSettings.WeightThreshold, 100L));
        Assert.Empty(pass.Changed);
        Assert.Contains(pass.LeftAlone, s => s.Name == "w" && s.Reason.Contains("also read by Add", StringComparison.Ordinal));
        Assert.Contains(pass.LeftAlone, s => s.Name == "tiny" && s.Reason.Contains("below the weight threshold of 100", StringComparison.Ordinal));
        Assert.Contains(pass.LeftAlone, s => s.Name == "v" && s.Reason.Contains("not a constant initializer", StringComparison.Ordinal));
        Assert.Equal(OnnxModelFile.ToBytes(model), OnnxModelFile.ToBytes(after));
    }

    [Fact]
    public void A_weight_in_an_If_branch_is_clustered_there_and_a_weight_that_is_a_graph_input_is_left_alone()
    {
        GraphBuilder Branch(string name, string weight, int seed) => new GraphBuilder(name)
            .Output(name + "_y", DataType.Float, "batch", 8)
            .Initializer(weight, [64, 8], SeededValues.Uniform(seed, 512, 0.3f))
            .Node("MatMul", ["x", weight], [name + "_y"]);
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", 64)
            .Input("flag", DataType.Bool)
            .Output("y", DataType.Float, "batch", 8)
            .Output("z", DataType.Float, "batch", 8)
            .Initializer("d", [64, 8], SeededValues.Uniform(20, 512, 0.3f))
            .Node("If", ["flag"], ["y"], Attributes.Subgraph("then_branch", Branch("then", "wt", 21).BuildGraph()), Attributes.Subgraph("else_branch", Branch("else", "we", 22).BuildGraph()))
            .Node("MatMul", ["x", "d"], ["z"])
            .InitializerAsInput("d")
            .Build();

        (ModelProto clustered, PassResult pass) = Cluster(model, Settings(3, ClusteringSettings.PerTensor));
        Assert.Equal(["wt", "we"], pass.Changed.Select(c => c.Name).Order(StringComparer.Ordinal).Reverse());
        Assert.Contains(pass.LeftAlone, s => s.Name == "d" && s.Reason.Contains("graph input", StringComparison.Ordinal));
        Assert.Equal(model.Graph.Input.Select(i => i.Name), clustered.Graph.Input.Select(i => i.Name));

        foreach (bool flag in new[] { true, false })
        {
            var inputs = new Dictionary<string, OnnxTensor> { ["x"] = Ort.RandomFloats(4, 5, 64), ["flag"] = OnnxTensor.FromArray(new[] { flag }, []) };
            IReadOnlyDictionary<string, OnnxTensor> before = Ort.Run(OnnxModelFile.ToBytes(model), inputs);
            IReadOnlyDictionary<string, OnnxTensor> after = Ort.Run(OnnxModelFile.ToBytes(clustered), inputs);
            Assert.True(Ort.Cosine(before["y"].As<float>().Span, after["y"].As<float>().Span) > 0.97);
            Assert.Equal(before["z"].As<float>().ToArray(), after["z"].As<float>().ToArray());
        }
    }

    [Fact]
    public void Weight_quantization_after_clustering_leaves_the_clustered_weights_and_codebooks_alone_and_quantizes_the_others()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, 2, 64)
            .Output("y", DataType.Float, 2, 16)
            .Initializer("w1", [64, 32], SeededValues.Uniform(5, 64 * 32, 0.3f))
            .Initializer("w2", [32, 16], SeededValues.Uniform(6, 32 * 16, 0.3f))
            .Node("MatMul", ["x", "w1"], ["h"])
            .Node("Relu", ["h"], ["r"])
            .Node("MatMul", ["r", "w2"], ["y"])
            .Build();
        model.Graph.Node[0].Name = "first";
        model.Graph.Node[2].Name = "second";
        string overrides = folder.File("overrides.json");
        File.WriteAllText(overrides, """{ "nodes": { "second": { "Cluster": "none" } } }""");
        CompressionSettings settings = CompressionSettings.Default
            .Set(ClusteringSettings.Cluster, 4L)
            .Set(ClusteringSettings.ClusterGranularity, ClusteringSettings.PerChannel)
            .Set(QuantizationSettings.WeightThreshold, 0L)
            .Set(SettingsCatalog.Overrides, overrides);

        ModelProto copy = model.Clone();
        Model ir = Model.FromProto(copy);
        var context = new PassContext(ir, SettingsResolver.Resolve(settings, folder.File("model.onnx")), folder.File("model.onnx"));
        PipelineResult pipeline = CompressionPipeline.Run(context);
        ModelProto compressed = ir.ToProto();

        PassResult clustering = pipeline.Passes.Single(p => p.Pass == "clustering");
        PassResult quantization = pipeline.Passes.Single(p => p.Pass == "weight-quantization");
        Assert.Equal("w1", Assert.Single(clustering.Changed).Name);
        Assert.Equal("w2", Assert.Single(quantization.Changed).Name);
        Assert.Contains(quantization.LeftAlone, s => s.Name == "w1" && s.Reason == ClusteringPass.AlreadyClustered);
        Assert.Contains(quantization.LeftAlone, s => s.Reason == "the codebook of a clustered weight");
        Assert.Empty(pipeline.Warnings);
        Assert.Equal(2, pipeline.Techniques.Count);

        var inputs = new Dictionary<string, OnnxTensor> { ["x"] = Ort.RandomFloats(7, 2, 64) };
        double cosine = Ort.Cosine(Ort.Run(OnnxModelFile.ToBytes(model), inputs)["y"].As<float>().Span, Ort.Run(OnnxModelFile.ToBytes(compressed), inputs)["y"].As<float>().Span);
        Assert.True(cosine > 0.99, $"cosine {cosine}");
    }

    [Fact]
    public void A_weight_read_by_nodes_whose_settings_differ_is_OCB0008()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, 2, 32)
            .Output("y", DataType.Float, 2, 32)
            .Initializer("w", [32, 32], SeededValues.Uniform(8, 1024))
            .Node("MatMul", ["x", "w"], ["h"])
            .Node("MatMul", ["h", "w"], ["y"])
            .Build();
        model.Graph.Node[0].Name = "a";
        model.Graph.Node[1].Name = "b";
        string overrides = folder.File("overrides.json");
        File.WriteAllText(overrides, """{ "nodes": { "b": { "Cluster": 2 } } }""");
        CompressionSettings settings = CompressionSettings.Default.Set(ClusteringSettings.Cluster, 4L).Set(SettingsCatalog.Overrides, overrides);
        var context = new PassContext(Model.FromProto(model.Clone()), SettingsResolver.Resolve(settings, folder.File("m.onnx")), folder.File("m.onnx"));
        CompressionException error = Assert.Throws<CompressionException>(() => new ClusteringPass().Run(context));
        Assert.Equal(DiagnosticCodes.SharedWeightConflict, error.Code);
        Assert.Contains("Cluster=4", error.Message, StringComparison.Ordinal);
        Assert.Contains("Cluster=2", error.Message, StringComparison.Ordinal);
    }

    internal static CompressionSettings Settings(int bits, string granularity) => CompressionSettings.Default
        .Set(ClusteringSettings.Cluster, (long)bits)
        .Set(ClusteringSettings.ClusterGranularity, granularity)
        .Set(QuantizationSettings.WeightThreshold, 0L);

    internal static (ModelProto Model, PassResult Pass) Cluster(ModelProto original, CompressionSettings settings)
    {
        Model ir = Model.FromProto(original.Clone());
        var context = new PassContext(ir, SettingsResolver.Resolve(settings, "test.onnx"), "test.onnx");
        PipelineResult pipeline = CompressionPipeline.Run(context, [new ClusteringPass()]);
        return (ir.ToProto(), pipeline.Passes[0]);
    }

    /// <summary>A one-layer model with a weight "w", its inputs, and the weight's output-channel axis.</summary>
    private static (ModelProto Model, Dictionary<string, OnnxTensor> Inputs, int Axis) Layer(string op) => op switch
    {
        "MatMul" => (new ModelBuilder()
            .Input("x", DataType.Float, 3, 64).Output("y", DataType.Float, 3, 48)
            .Initializer("w", [64, 48], SeededValues.Uniform(11, 64 * 48, 0.2f))
            .Node("MatMul", ["x", "w"], ["y"]).Build(), new() { ["x"] = Ort.RandomFloats(1, 3, 64) }, 1),
        "Gemm" => (new ModelBuilder()
            .Input("x", DataType.Float, 3, 64).Output("y", DataType.Float, 3, 40)
            .Initializer("w", [40, 64], SeededValues.Uniform(12, 40 * 64, 0.2f))
            .Initializer("c", [40], SeededValues.Uniform(13, 40))
            .Node("Gemm", ["x", "w", "c"], ["y"], Attributes.Int("transB", 1), Attributes.Float("alpha", 0.5f)).Build(), new() { ["x"] = Ort.RandomFloats(2, 3, 64) }, 0),
        _ => (new ModelBuilder()
            .Input("x", DataType.Float, 1, 3, 8, 8).Output("y", DataType.Float, 1, 16, 6, 6)
            .Initializer("w", [16, 3, 3, 3], SeededValues.Uniform(14, 16 * 27, 0.3f))
            .Node("Conv", ["x", "w"], ["y"]).Build(), new() { ["x"] = Ort.RandomFloats(3, 1, 3, 8, 8) }, 0),
    };

    /// <summary>The weight "w" as ONNX Runtime holds it after its basic optimizations (constant folding), and the operators left.</summary>
    private float[] FoldedWeight(ModelProto model, IReadOnlyDictionary<string, OnnxTensor> inputs, out IReadOnlyList<string> opTypes)
    {
        string path = folder.File($"optimized-{Guid.NewGuid():N}.onnx");
        var options = new OnnxSessionOptions
        {
            IntraOpThreads = 1,
            OptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            OptimizedModelPath = path,
        };
        using (var session = new OnnxSession(OnnxModelFile.ToBytes(model), options))
        {
            session.Run(inputs);
        }

        ModelProto optimized = OnnxModelFile.Load(path);
        opTypes = optimized.Graph.Node.Select(n => n.OpType).ToList();
        return optimized.Graph.Initializer.Single(t => t.Name == "w").View<float>().Span.ToArray();
    }

    /// <summary>The weight's values per codebook: each output channel's, or all of them.</summary>
    private static IEnumerable<float[]> Rows(float[] values, long[] dims, int axis)
    {
        if (axis < 0)
        {
            yield return values;
            yield break;
        }

        float[] channelMajor = ChannelLayout.ToChannelMajor(values, dims, axis, out int channels, out int length);
        for (int c = 0; c < channels; c++)
        {
            yield return channelMajor.AsSpan(c * length, length).ToArray();
        }
    }

    /// <summary>The clustered float values, computed with the k-means directly.</summary>
    private static float[] Clustered(float[] weight, long[] dims, int bits, int axis)
    {
        float[] channelMajor = ChannelLayout.ToChannelMajor(weight, dims, axis, out int channels, out int length);
        var result = new float[channelMajor.Length];
        long budget = axis < 0 ? 0 : ScalarKMeans.ChannelBudget(weight.Length, channels);
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<float> row = channelMajor.AsSpan(c * length, length);
            Codebook book = ScalarKMeans.Fit(row, 1 << bits, keepZero: true, budget);
            var codes = new byte[length];
            ScalarKMeans.Assign(row, book, codes);
            for (int i = 0; i < length; i++)
            {
                result[(c * length) + i] = book.Values[codes[i]];
            }
        }

        if (axis < 0)
        {
            return result;
        }

        // Back to the weight's layout.
        (int outer, int count, int inner) = ChannelLayout.Split(dims, axis);
        var back = new float[result.Length];
        for (int o = 0; o < outer; o++)
        {
            for (int c = 0; c < count; c++)
            {
                for (int i = 0; i < inner; i++)
                {
                    back[(((o * count) + c) * inner) + i] = result[(c * length) + (o * inner) + i];
                }
            }
        }

        return back;
    }
}
