using Compression.Core.Evaluation;
using Compression.Core.Ir;
using Compression.Core.Passes;
using Compression.Core.Passes.Pruning;
using Compression.Core.Passes.Quantization;
using Compression.Core.Runtime;
using Compression.Core.Settings;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Pruning;

/// <summary>
/// Channel pruning on real models run in ONNX Runtime. The key check: with distillation off, the pruned model computes what
/// the original computes with the same channels zeroed (the removed channels' weights and biases set to zero; after a
/// BatchNormalization its scale and bias), which the test finds by matching the pruned biases against the original's.
/// </summary>
public sealed class ChannelPruningTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void Half_the_hidden_neurons_of_the_digits_MLP_go_and_the_model_computes_the_original_with_them_zeroed()
    {
        ModelProto original = OnnxModelFile.Load(RepositoryPaths.DigitsModel);
        (ModelProto pruned, PassResult pass) = Prune(original, Channel(0.5));

        Assert.Equal([64, 128], Dims(pruned, "fc1.weight"));
        Assert.Equal([128, 128], Dims(pruned, "fc2.weight"));
        Assert.Equal([128, 10], Dims(pruned, "fc3.weight"));
        Assert.Equal([128], Dims(pruned, "fc1.bias"));
        Assert.True(pass.Modified);
        Assert.Contains(pass.Changed, c => c.Name == "fc1.weight" && c.Technique.Contains("128 of 256 output channels removed (magnitude)", StringComparison.Ordinal) && c.BytesAfter * 2 == c.BytesBefore);
        Assert.Contains(pass.Changed, c => c.Name == "fc3.weight" && c.Technique.Contains("128 of 256 input channels removed", StringComparison.Ordinal));
        TensorLeftAlone head = Assert.Single(pass.LeftAlone);
        Assert.Equal("fc3.weight", head.Name);
        Assert.Contains("model output", head.Reason, StringComparison.Ordinal);
        Assert.Equal("Channel pruning: 2 layers lose 256 of 512 output channels (50%, magnitude, layer scope) and the layers that read them shrink to match.", Assert.Single(pass.Techniques));
        Assert.True(OnnxModelFile.ToBytes(pruned).Length < OnnxModelFile.ToBytes(original).Length * 0.45);

        ModelProto zeroed = Zeroed(original, pruned, ("fc1.bias", [("fc1.weight", 1), ("fc1.bias", 0)]), ("fc2.bias", [("fc2.weight", 1), ("fc2.bias", 0)]));
        AssertSameOutputs(zeroed, pruned, new Dictionary<string, OnnxTensor> { ["pixels"] = DigitsTestSet.Load().Images(360) });
    }

    [Fact]
    public void The_digits_CNN_loses_30_percent_of_its_filters_through_pooling_and_Flatten_into_the_Gemm()
    {
        ModelProto original = OnnxModelFile.Load(RepositoryPaths.DigitsCnnModel);
        (ModelProto pruned, PassResult pass) = Prune(original, Channel(0.3));

        // 30% of each layer, rounded so that a multiple of 8 channels remains (ONNX Runtime's blocked Conv kernels).
        static long Kept(long channels) => (channels - (long)Math.Floor(0.3 * channels) + 7) / 8 * 8;
        Assert.Equal([24L, 48L, 96L], [Kept(32), Kept(64), Kept(128)]);
        Assert.Equal([Kept(32), 1, 3, 3], Dims(pruned, "conv1.weight"));
        Assert.Equal([Kept(64), Kept(32), 3, 3], Dims(pruned, "conv2.weight"));
        Assert.Equal([Kept(128), Kept(64), 3, 3], Dims(pruned, "conv3.weight"));
        // Flatten: each of conv3's channels is a block of 2 x 2 features of fc1's input.
        Assert.Equal([Kept(128), Kept(128) * 4], Dims(pruned, "fc1.weight"));
        Assert.Equal([10, Kept(128)], Dims(pruned, "fc2.weight"));
        Assert.Contains(pass.LeftAlone, s => s.Name == "fc2.weight" && s.Reason.Contains("model output", StringComparison.Ordinal));

        ModelProto zeroed = Zeroed(original, pruned,
            ("conv1.bias", [("conv1.weight", 0), ("conv1.bias", 0)]),
            ("conv2.bias", [("conv2.weight", 0), ("conv2.bias", 0)]),
            ("conv3.bias", [("conv3.weight", 0), ("conv3.bias", 0)]),
            ("fc1.bias", [("fc1.weight", 0), ("fc1.bias", 0)]));
        AssertSameOutputs(zeroed, pruned, new Dictionary<string, OnnxTensor> { ["pixels"] = DigitsTestSet.Load().Images(360) });
    }

    [Theory]
    [InlineData(PruningSettings.LayerScope)]
    [InlineData(PruningSettings.GlobalScope)]
    public void Residual_Adds_tie_their_layers_and_BatchNormalization_shrinks_with_them(string scope)
    {
        ModelProto original = ResidualNet();
        (ModelProto pruned, PassResult pass) = Prune(original, Channel(0.5).Set(PruningSettings.PruneScope, scope));

        // The stem and the second conv of each block feed the residual sums: they keep the same channels.
        long tied = Dims(pruned, "stem.w")[0];
        Assert.Equal(tied, Dims(pruned, "b1.b.w")[0]);
        Assert.Equal(tied, Dims(pruned, "b2.b.w")[0]);
        Assert.Equal([10, tied], Dims(pruned, "fc.w"));
        Assert.Equal([tied], Dims(pruned, "bn0.scale"));
        Assert.Equal([tied], Dims(pruned, "bn0.var"));
        long[] inner = [Dims(pruned, "b1.a.w")[0], Dims(pruned, "b2.a.w")[0]];
        Assert.Equal(inner[0], Dims(pruned, "b1.b.w")[1]);
        long removed = (16 - tied) + (16 - inner[0]) + (16 - inner[1]);
        if (scope == PruningSettings.LayerScope)
        {
            Assert.Equal([8L, 8L, 8L], [tied, inner[0], inner[1]]);
        }
        else
        {
            // One threshold over the three spaces' normalized scores, then each space keeps a multiple of 8 channels.
            Assert.All(new[] { tied, inner[0], inner[1] }, kept => Assert.True(kept is 8 or 16, $"{kept} channels kept"));
            Assert.InRange(removed, 8, 24);
        }
        Assert.Contains($"{scope} scope", Assert.Single(pass.Techniques), StringComparison.Ordinal);

        ModelProto zeroed = Zeroed(original, pruned,
            ("bn0.b", [("stem.w", 0), ("bn0.scale", 0), ("bn0.b", 0), ("b1.b.w", 0), ("bn1b.scale", 0), ("bn1b.b", 0), ("b2.b.w", 0), ("bn2b.scale", 0), ("bn2b.b", 0)]),
            ("bn1a.b", [("b1.a.w", 0), ("bn1a.scale", 0), ("bn1a.b", 0)]),
            ("bn2a.b", [("b2.a.w", 0), ("bn2a.scale", 0), ("bn2a.b", 0)]));
        AssertSameOutputs(zeroed, pruned, new Dictionary<string, OnnxTensor> { ["x"] = Ort.RandomFloats(3, 2, 3, 16, 16) });
    }

    [Fact]
    public void A_depthwise_Conv_between_two_pointwise_Convs_passes_the_channels_through_and_its_group_shrinks()
    {
        ModelProto original = DepthwiseNet();
        (ModelProto pruned, PassResult pass) = Prune(original, Channel(0.5));

        Assert.Equal([4, 4, 1, 1], Dims(pruned, "pw1.w"));
        Assert.Equal([4, 1, 3, 3], Dims(pruned, "dw.w"));
        Assert.Equal([4], Dims(pruned, "dw.b"));
        Assert.Equal([6, 4, 1, 1], Dims(pruned, "pw2.w"));
        Assert.Equal(4, pruned.Graph.Node.Single(n => n.Name == "Conv_dw").Attribute.Single(a => a.Name == "group").I);
        Assert.Contains(pass.Changed, c => c.Name == "dw.w" && c.Technique.Contains("depthwise", StringComparison.Ordinal));

        ModelProto zeroed = Zeroed(original, pruned, ("pw1.b", [("pw1.w", 0), ("pw1.b", 0), ("dw.w", 0), ("dw.b", 0)]));
        AssertSameOutputs(zeroed, pruned, new Dictionary<string, OnnxTensor> { ["x"] = Ort.RandomFloats(4, 2, 4, 8, 8) });
    }

    [Fact]
    public void A_Concat_puts_two_layers_channels_side_by_side_and_the_reader_loses_the_inputs_of_both()
    {
        ModelProto original = ConcatNet();
        (ModelProto pruned, _) = Prune(original, Channel(0.5));

        Assert.Equal([16, 3], Dims(pruned, "left.w"));
        Assert.Equal([16, 5], Dims(pruned, "right.w"));
        Assert.Equal([8, 4], Dims(pruned, "head.w"));
        ModelProto zeroed = Zeroed(original, pruned, ("left.b", [("left.w", 1), ("left.b", 0)]), ("right.b", [("right.w", 1), ("right.b", 0)]));
        AssertSameOutputs(zeroed, pruned, new Dictionary<string, OnnxTensor> { ["x"] = Ort.RandomFloats(5, 7, 16) });
    }

    [Fact]
    public void A_libonnx_testdata_Conv_followed_by_a_reader_loses_filters_and_its_suite_input_gives_the_zeroed_outputs()
    {
        // pytorch-converted/test_Conv2d (an exporter's model of IR 3, its weight an initializer listed among the inputs),
        // followed here by a ReLU and a 1 x 1 Conv, so that its output channels have a reader to shrink.
        string dir = Path.Combine(AssemblyMetadata.OnnxTestDataDir, "pytorch-converted", "test_Conv2d");
        ModelProto original = OnnxModelFile.Load(Path.Combine(dir, "model.onnx"));
        NodeProto conv = Assert.Single(original.Graph.Node);
        TensorProto weight = original.Graph.Initializer.Single(t => t.Name == conv.Input[1]);
        long filters = weight.Dims[0];
        string convOutput = conv.Output[0];
        original.Graph.Initializer.Add(TensorValues.Create<float>("head.w", [3, filters, 1, 1], SeededValues.Uniform(9, 3 * (int)filters)));
        original.Graph.Node.Add(new NodeProto { OpType = "Relu", Name = "relu", Input = { convOutput }, Output = { "relu_out" } });
        original.Graph.Node.Add(new NodeProto { OpType = "Conv", Name = "head", Input = { "relu_out", "head.w" }, Output = { "y" } });
        ValueInfoProto output = original.Graph.Output.Single();
        original.Graph.Output.Clear();
        original.Graph.Output.Add(new ValueInfoProto { Name = "y", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float } } });
        Assert.Equal(convOutput, output.Name);

        (ModelProto pruned, PassResult pass) = Prune(original, Channel(0.5));
        long kept = filters - (filters / 2);
        Assert.Equal(kept, Dims(pruned, weight.Name)[0]);
        Assert.Equal([3, kept, 1, 1], Dims(pruned, "head.w"));
        Assert.Equal(conv.Input.Count > 2 ? 3 : 2, pass.Changed.Count);

        // Without a bias to match, the kept filters are found by their weights.
        ModelProto zeroed = ZeroedByRows(original, pruned, weight.Name, conv.Input.Count > 2 ? conv.Input[2] : null);
        TensorProto input = OnnxDataFile.LoadTensor(Path.Combine(dir, "test_data_set_0", "input_0.pb"));
        AssertSameOutputs(zeroed, pruned, new Dictionary<string, OnnxTensor> { [original.Graph.Input[0].Name] = TensorConversion.ToOnnxTensor(input) });
    }

    [Fact]
    public void Layers_whose_channels_cannot_be_followed_are_left_alone_with_the_reason_and_the_model_is_unchanged()
    {
        // libonnx-testdata's Linear: the Gemm's output is the model's output.
        ModelProto linear = OnnxModelFile.Load(Path.Combine(AssemblyMetadata.OnnxTestDataDir, "pytorch-converted", "test_Linear", "model.onnx"));
        (ModelProto samePruned, PassResult linearPass) = Prune(linear, Channel(0.5));
        Assert.Equal(OnnxModelFile.ToBytes(linear), OnnxModelFile.ToBytes(samePruned));
        Assert.False(linearPass.Modified);
        Assert.Contains("model output", Assert.Single(linearPass.LeftAlone).Reason, StringComparison.Ordinal);

        // A Reshape that is not a Flatten reads the hidden layer; a weight shared by two MatMuls cannot shrink for one of them.
        ModelProto reshaped = new ModelBuilder()
            .Input("x", DataType.Float, 2, 8)
            .Output("y", DataType.Float, 2, 4)
            .Output("z", DataType.Float, 2, 4)
            .Initializer("w1", [8, 8], SeededValues.Uniform(1, 64))
            .Initializer("w2", [8, 4], SeededValues.Uniform(2, 32))
            .Initializer("shape", [2], new long[] { 2, 8 })
            .Node("MatMul", ["x", "w1"], ["h"])
            .Node("Reshape", ["h", "shape"], ["r"])
            .Node("MatMul", ["r", "w2"], ["y"])
            .Node("MatMul", ["x", "w2"], ["z"])
            .Build();
        (ModelProto unchanged, PassResult pass) = Prune(reshaped, Channel(0.5));
        Assert.Equal(OnnxModelFile.ToBytes(reshaped), OnnxModelFile.ToBytes(unchanged));
        Assert.Empty(pass.Changed);
        Assert.Contains(pass.LeftAlone, s => s.Name == "w1" && s.Reason.Contains("Reshape", StringComparison.Ordinal) && s.Reason.Contains("only a Reshape to [0, -1]", StringComparison.Ordinal));
        Assert.Contains(pass.LeftAlone, s => s.Name == "w2" && s.Reason.Contains("shared", StringComparison.Ordinal));
    }

    [Fact]
    public void Without_channel_settings_the_pass_changes_and_reports_nothing()
    {
        ModelProto original = OnnxModelFile.Load(RepositoryPaths.DigitsCnnModel);
        (ModelProto unstructured, PassResult pass) = Prune(original, CompressionSettings.Default.Set(PruningSettings.Prune, 0.5));
        Assert.Equal(OnnxModelFile.ToBytes(original), OnnxModelFile.ToBytes(unstructured));
        Assert.False(pass.Modified);
        Assert.Empty(pass.Changed);
        Assert.Empty(pass.LeftAlone);
        Assert.Empty(pass.Techniques);

        (ModelProto off, PassResult offPass) = Prune(original, CompressionSettings.Default.Set(PruningSettings.PrunePattern, PruningSettings.Channel));
        Assert.Equal(OnnxModelFile.ToBytes(original), OnnxModelFile.ToBytes(off));
        Assert.Empty(offPass.LeftAlone);
    }

    [Theory]
    [InlineData(PruningSettings.Magnitude)]
    [InlineData(PruningSettings.Random)]
    public void The_same_model_and_settings_give_the_same_bytes(string criterion)
    {
        ModelProto original = OnnxModelFile.Load(RepositoryPaths.DigitsCnnModel);
        CompressionSettings settings = Channel(0.3).Set(PruningSettings.PruneCriterion, criterion).Set(PruningSettings.PruneScope, PruningSettings.GlobalScope);
        byte[] first = OnnxModelFile.ToBytes(Prune(original, settings).Model);
        byte[] second = OnnxModelFile.ToBytes(Prune(original, settings).Model);
        Assert.Equal(first, second);
        Assert.NotEqual(OnnxModelFile.ToBytes(original).Length, first.Length);
    }

    [Fact]
    public void Criteria_that_score_single_weights_are_refused_with_OCB0003_naming_the_ones_channel_pruning_takes()
    {
        ModelProto original = OnnxModelFile.Load(RepositoryPaths.DigitsModel);
        CompressionException error = Assert.Throws<CompressionException>(() => Prune(original, Channel(0.5).Set(PruningSettings.PruneCriterion, PruningSettings.SparseGpt)));
        Assert.Equal(DiagnosticCodes.InvalidSetting, error.Code);
        Assert.Contains("PruneCriterion=sparsegpt (the compression request)", error.Message, StringComparison.Ordinal);
        Assert.Contains("magnitude", error.Message, StringComparison.Ordinal);
        Assert.Contains("wanda", error.Message, StringComparison.Ordinal);

        CompressionException wanda = Assert.Throws<CompressionException>(() => Prune(original, Channel(0.5).Set(PruningSettings.PruneCriterion, PruningSettings.Wanda)));
        Assert.Contains("needs calibration data", wanda.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Through_the_compressor_distillation_keeps_the_digits_MLPs_accuracy_at_half_its_neurons()
    {
        string calibration = DigitsSamples("calibration", 0, 180);
        CompressionSettings Settings(bool distill, string criterion) => Channel(0.5)
            .Set(PruningSettings.PruneCriterion, criterion)
            .Set(Passes.Distillation.DistillationSettings.Distill, distill)
            .Set(EvaluationSettings.CalibrationData, calibration);

        double Accuracy(string path)
        {
            using var session = new OnnxSession(File.ReadAllBytes(path), Ort.Options());
            return DigitsTestSet.Load().Accuracy(session);
        }

        double original = Accuracy(RepositoryPaths.DigitsModel);
        var accuracies = new Dictionary<string, double>();
        foreach ((string name, bool distill, string criterion) in new[] { ("plain", false, PruningSettings.Magnitude), ("distilled", true, PruningSettings.Magnitude), ("wanda", true, PruningSettings.Wanda) })
        {
            string output = folder.File(name, "digits.onnx");
            CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, output) { Settings = Settings(distill, criterion) });
            PassResult pass = outcome.Report.Passes.Single(p => p.Pass == "channel-pruning");
            Assert.Equal(distill, pass.Techniques.Single().Contains("distilled", StringComparison.Ordinal));
            if (distill)
            {
                // The two layers that lost inputs, refit: the report gives each one's output error pruned and refit.
                TensorChange[] refit = pass.Changed.Where(c => c.OutputError is not null).ToArray();
                Assert.Equal(["fc2.weight", "fc3.weight"], refit.Select(c => c.Name));
                Assert.All(refit, change =>
                {
                    string[] errors = change.Technique[(change.Technique.IndexOf("output error ", StringComparison.Ordinal) + 13)..].Split(" -> ");
                    double before = double.Parse(errors[0], System.Globalization.CultureInfo.InvariantCulture);
                    Assert.Equal(change.OutputError!.Value, double.Parse(errors[1], System.Globalization.CultureInfo.InvariantCulture), 4);
                    Assert.True(change.OutputError < before / 2, $"{change.Name}: {change.Technique}");
                });
            }

            accuracies[name] = Accuracy(output);
        }

        // The whole test split (its first half calibrated): distillation makes up for most of what the removed neurons gave.
        Assert.True(accuracies["distilled"] > accuracies["plain"], $"distilled {accuracies["distilled"]:P2}, plain {accuracies["plain"]:P2}");
        Assert.True(original - accuracies["distilled"] <= 0.015, $"original {original:P2}, distilled {accuracies["distilled"]:P2}");
        Assert.True(original - accuracies["wanda"] <= 0.015, $"original {original:P2}, wanda and distilled {accuracies["wanda"]:P2}");
    }

    [Fact]
    public void Through_the_compressor_a_CNN_with_external_weights_is_pruned_distilled_and_then_quantized()
    {
        // The digits CNN with its large weights in a data file beside it, as large exports keep them.
        ModelProto cnn = OnnxModelFile.Load(RepositoryPaths.DigitsCnnModel);
        using (var data = new FileStream(folder.File("cnn.weights"), FileMode.CreateNew))
        {
            foreach (TensorProto tensor in cnn.Graph.Initializer.Where(t => TensorShape.ElementCount(t.Dims) >= 1024))
            {
                byte[] bytes = tensor.RawData.ToByteArray();
                long offset = data.Position;
                data.Write(bytes);
                new ExternalDataReference("cnn.weights", offset, bytes.Length).ApplyTo(tensor);
            }
        }

        string model = folder.File("digits_cnn.onnx");
        OnnxModelFile.Save(cnn, model);
        string calibration = DigitsSamples("calibration", 0, 180);
        string validation = DigitsSamples("validation", 180, 180, labels: true);
        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(model, folder.File("out", "digits_cnn.onnx"))
        {
            Settings = CompressionSettings.Default
                .Set(PruningSettings.Prune, 0.5)
                .Set(PruningSettings.PrunePattern, PruningSettings.Channel)
                .Set(EvaluationSettings.CalibrationData, calibration)
                .Set(EvaluationSettings.ValidationData, validation),
        });

        Assert.Equal(["channel-pruning", "weight-quantization"], outcome.Report.Passes.Select(p => p.Pass));
        Assert.Contains("4 of these refit to the original outputs", Assert.Single(outcome.Report.Passes[0].Techniques), StringComparison.Ordinal);
        Assert.True(outcome.Report.Passes[1].Modified);
        Assert.True(outcome.Report.Size.Compressed < outcome.Report.Size.Original * 0.1, $"{outcome.Report.Size.Compressed} of {outcome.Report.Size.Original}");

        // Held-out images (calibration saw the other half): half the filters gone, int8, within 1.5 points of the original.
        AccuracyResult accuracy = outcome.Report.Validation!.Accuracy!;
        Assert.True(accuracy.Drop <= 0.015, $"original {accuracy.Original:P2}, compressed {accuracy.Compressed:P2}");
    }

    [Fact]
    public void A_weight_that_is_also_a_graph_input_is_left_alone_the_caller_may_pass_its_own()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "n", 8)
            .Input("w1", DataType.Float, 8, 16)
            .Output("y", DataType.Float, "n", 4)
            .Initializer("w1", [8, 16], SeededValues.Uniform(61, 128))
            .Initializer("w2", [16, 4], SeededValues.Uniform(62, 64))
            .Node("MatMul", ["x", "w1"], ["h"])
            .Node("Relu", ["h"], ["r"])
            .Node("MatMul", ["r", "w2"], ["y"])
            .Build();

        (ModelProto pruned, PassResult pass) = Prune(model, Channel(0.5));
        Assert.Equal(OnnxModelFile.ToBytes(model), OnnxModelFile.ToBytes(pruned));
        Assert.Contains(pass.LeftAlone, s => s.Name == "w1" && s.Reason.Contains("graph input", StringComparison.Ordinal));
    }

    private static CompressionSettings Channel(double fraction) => CompressionSettings.Default
        .Set(PruningSettings.Prune, fraction)
        .Set(PruningSettings.PrunePattern, PruningSettings.Channel)
        .Set(QuantizationSettings.Quantize, QuantizationSettings.None);

    private static (ModelProto Model, PassResult Pass) Prune(ModelProto original, CompressionSettings settings)
    {
        Model ir = Model.FromProto(original.Clone());
        var context = new PassContext(ir, SettingsResolver.Resolve(settings, "test.onnx"), "test.onnx");
        PassResult result = new ChannelPruningPass().Run(context);
        return (ir.ToProto(), result);
    }

    private static long[] Dims(ModelProto model, string name) => [.. model.Graph.Initializer.Single(t => t.Name == name).Dims];

    /// <summary>
    /// The original with the pruned channels zeroed: the kept channels are found by matching the pruned 1-D tensor
    /// <c>Match</c> against the original's, in order, and the removed indices are set to zero along the given axis of each tensor.
    /// </summary>
    private static ModelProto Zeroed(ModelProto original, ModelProto pruned, params (string Match, (string Tensor, int Axis)[] Zero)[] spaces)
    {
        ModelProto zeroed = original.Clone();
        foreach ((string match, (string Tensor, int Axis)[] zero) in spaces)
        {
            float[] before = original.Graph.Initializer.Single(t => t.Name == match).ToArray<float>();
            float[] after = pruned.Graph.Initializer.Single(t => t.Name == match).ToArray<float>();
            HashSet<int> kept = MatchInOrder(before.Length, after.Length, (i, j) => before[i] == after[j]);
            foreach ((string tensor, int axis) in zero)
            {
                ZeroAlong(zeroed, tensor, axis, kept);
            }
        }

        return zeroed;
    }

    /// <summary>The original with the filters of <paramref name="weight"/> (axis 0) the pruned model lacks zeroed, found by their values.</summary>
    private static ModelProto ZeroedByRows(ModelProto original, ModelProto pruned, string weight, string? bias)
    {
        TensorProto before = original.Graph.Initializer.Single(t => t.Name == weight);
        float[] a = before.ToArray<float>(), b = pruned.Graph.Initializer.Single(t => t.Name == weight).ToArray<float>();
        int row = (int)(a.Length / before.Dims[0]);
        HashSet<int> kept = MatchInOrder((int)before.Dims[0], b.Length / row, (i, j) => a.AsSpan(i * row, row).SequenceEqual(b.AsSpan(j * row, row)));
        ModelProto zeroed = original.Clone();
        ZeroAlong(zeroed, weight, 0, kept);
        if (bias is not null)
        {
            ZeroAlong(zeroed, bias, 0, kept);
        }

        return zeroed;
    }

    private static HashSet<int> MatchInOrder(int originalCount, int prunedCount, Func<int, int, bool> same)
    {
        var kept = new HashSet<int>();
        int i = 0;
        for (int j = 0; j < prunedCount; j++)
        {
            while (!same(i, j))
            {
                i++;
            }

            kept.Add(i++);
        }

        Assert.True(i <= originalCount);
        return kept;
    }

    private static void ZeroAlong(ModelProto model, string name, int axis, HashSet<int> kept)
    {
        int index = model.Graph.Initializer.ToList().FindIndex(t => t.Name == name);
        TensorProto tensor = model.Graph.Initializer[index];
        float[] values = tensor.ToArray<float>();
        long[] dims = [.. tensor.Dims];
        long inner = dims.Skip(axis + 1).Aggregate(1L, (x, y) => x * y);
        for (long e = 0; e < values.Length; e++)
        {
            if (!kept.Contains((int)(e / inner % dims[axis])))
            {
                values[e] = 0;
            }
        }

        model.Graph.Initializer[index] = TensorValues.Create<float>(name, dims, values);
    }

    private static void AssertSameOutputs(ModelProto expectedModel, ModelProto actualModel, IReadOnlyDictionary<string, OnnxTensor> inputs)
    {
        IReadOnlyDictionary<string, OnnxTensor> expected = Ort.Run(OnnxModelFile.ToBytes(expectedModel), inputs);
        IReadOnlyDictionary<string, OnnxTensor> actual = Ort.Run(OnnxModelFile.ToBytes(actualModel), inputs);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(expectedModel.Graph.Output.Select(o => o.Name), actualModel.Graph.Output.Select(o => o.Name));
        Assert.Equal(expectedModel.Graph.Input.Select(o => o.Name), actualModel.Graph.Input.Select(o => o.Name));
        foreach ((string name, OnnxTensor tensor) in expected)
        {
            Assert.Equal(tensor.Shape.ToArray(), actual[name].Shape.ToArray());
            ReadOnlySpan<float> a = tensor.As<float>().Span, b = actual[name].As<float>().Span;
            double scale = Math.Max(1, System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(a));
            double difference = Ort.MaxAbsDifference(a, b);
            Assert.True(difference <= 1e-4 * scale, $"Output '{name}': the pruned model differs from the zeroed original by {difference}.");
        }
    }

    /// <summary>
    /// x [n, 3, 16, 16] -> 3x3 Conv to 16 channels, BatchNormalization, ReLU -> two residual blocks (3x3 Conv, BN, ReLU, 3x3 Conv,
    /// BN, Add of the block's input, ReLU) -> GlobalAveragePool -> Reshape to [0, -1] -> Gemm (transB) to 10 -> y.
    /// </summary>
    private static ModelProto ResidualNet()
    {
        var b = new ModelBuilder()
            .Input("x", DataType.Float, "n", 3, 16, 16)
            .Output("y", DataType.Float, "n", 10);
        int seed = 100;
        void ConvBn(string weight, string bn, string input, string output, int inChannels)
        {
            b.Initializer(weight, [16, inChannels, 3, 3], SeededValues.Uniform(seed++, 16 * inChannels * 9, 0.3f));
            b.Initializer(bn + ".scale", [16], SeededValues.Uniform(seed++, 16).Select(v => 1 + (0.5f * v)).ToArray());
            b.Initializer(bn + ".b", [16], SeededValues.Uniform(seed++, 16, 0.2f));
            b.Initializer(bn + ".mean", [16], SeededValues.Uniform(seed++, 16, 0.1f));
            b.Initializer(bn + ".var", [16], SeededValues.Uniform(seed++, 16).Select(v => 1 + (0.5f * v)).ToArray());
            b.Node("Conv", [input, weight], [output + ".conv"], Attributes.Ints("pads", 1, 1, 1, 1), Attributes.Ints("kernel_shape", 3, 3));
            b.Node("BatchNormalization", [output + ".conv", bn + ".scale", bn + ".b", bn + ".mean", bn + ".var"], [output]);
        }

        ConvBn("stem.w", "bn0", "x", "s", 3);
        b.Node("Relu", ["s"], ["h0"]);
        for (int block = 1; block <= 2; block++)
        {
            string input = $"h{block - 1}";
            ConvBn($"b{block}.a.w", $"bn{block}a", input, $"a{block}", 16);
            b.Node("Relu", [$"a{block}"], [$"a{block}.relu"]);
            ConvBn($"b{block}.b.w", $"bn{block}b", $"a{block}.relu", $"c{block}", 16);
            b.Node("Add", [$"c{block}", input], [$"sum{block}"]);
            b.Node("Relu", [$"sum{block}"], [$"h{block}"]);
        }

        return b
            .ValueInfo("h2", DataType.Float, "n", 16, 16, 16)
            .Initializer("fc.w", [10, 16], SeededValues.Uniform(seed++, 160, 0.5f))
            .Initializer("fc.b", [10], SeededValues.Uniform(seed, 10, 0.1f))
            .Initializer("flat.shape", [2], new long[] { 0, -1 })
            .Node("GlobalAveragePool", ["h2"], ["pooled"])
            .Node("Reshape", ["pooled", "flat.shape"], ["flat"])
            .Node("Gemm", ["flat", "fc.w", "fc.b"], ["y"], Attributes.Int("transB", 1))
            .Build();
    }

    /// <summary>x [n, 4, 8, 8] -> 1x1 Conv to 8 (bias), ReLU -> depthwise 3x3 Conv (group 8, bias), ReLU -> 1x1 Conv to 6 (bias) -> y.</summary>
    private static ModelProto DepthwiseNet() => new ModelBuilder()
        .Input("x", DataType.Float, "n", 4, 8, 8)
        .Output("y", DataType.Float, "n", 6, 8, 8)
        .Initializer("pw1.w", [8, 4, 1, 1], SeededValues.Uniform(41, 32))
        .Initializer("pw1.b", [8], SeededValues.Uniform(42, 8, 0.2f))
        .Initializer("dw.w", [8, 1, 3, 3], SeededValues.Uniform(43, 72))
        .Initializer("dw.b", [8], SeededValues.Uniform(44, 8, 0.2f))
        .Initializer("pw2.w", [6, 8, 1, 1], SeededValues.Uniform(45, 48))
        .Initializer("pw2.b", [6], SeededValues.Uniform(46, 6, 0.2f))
        .Node("Conv", ["x", "pw1.w", "pw1.b"], ["p1"])
        .Node("Relu", ["p1"], ["r1"])
        .Node("Conv", ["r1", "dw.w", "dw.b"], ["dw"], Attributes.Int("group", 8), Attributes.Ints("pads", 1, 1, 1, 1))
        .Node("Relu", ["dw"], ["r2"])
        .Node("Conv", ["r2", "pw2.w", "pw2.b"], ["y"])
        .Build();

    /// <summary>x [n, 16] -> MatMul to 6 and to 10 (each with a bias Add and ReLU) -> Concat -> MatMul [16, 4] -> y.</summary>
    private static ModelProto ConcatNet() => new ModelBuilder()
        .Input("x", DataType.Float, "n", 16)
        .Output("y", DataType.Float, "n", 4)
        .Initializer("left.w", [16, 6], SeededValues.Uniform(51, 96))
        .Initializer("left.b", [6], SeededValues.Uniform(52, 6, 0.2f))
        .Initializer("right.w", [16, 10], SeededValues.Uniform(53, 160))
        .Initializer("right.b", [10], SeededValues.Uniform(54, 10, 0.2f))
        .Initializer("head.w", [16, 4], SeededValues.Uniform(55, 64))
        .Node("MatMul", ["x", "left.w"], ["l"])
        .Node("Add", ["l", "left.b"], ["lb"])
        .Node("Relu", ["lb"], ["lr"])
        .Node("MatMul", ["x", "right.w"], ["r"])
        .Node("Add", ["r", "right.b"], ["rb"])
        .Node("Relu", ["rb"], ["rr"])
        .Node("Concat", ["lr", "rr"], ["cat"], Attributes.Int("axis", 1))
        .Node("MatMul", ["cat", "head.w"], ["y"])
        .Build();

    private string DigitsSamples(string name, int first, int rows, bool labels = false)
    {
        DigitsTestSet testSet = DigitsTestSet.Load();
        string data = folder.File(name);
        Directory.CreateDirectory(data);
        NumPyWriter.Write<float>(Path.Combine(data, "pixels.npy"), testSet.PixelValues.AsSpan(first * DigitsTestSet.Pixels, rows * DigitsTestSet.Pixels), rows, DigitsTestSet.Pixels);
        if (labels)
        {
            NumPyWriter.Write<long>(Path.Combine(data, "labels.npy"), testSet.Labels.Skip(first).Take(rows).Select(l => (long)l).ToArray(), rows);
        }

        return data;
    }
}
