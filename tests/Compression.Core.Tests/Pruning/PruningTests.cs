using Compression.Core.Evaluation;
using Compression.Core.Passes;
using Compression.Core.Passes.Distillation;
using Compression.Core.Passes.Pruning;
using Compression.Core.Passes.Quantization;
using Compression.Core.Runtime;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Core.Tests.Pruning;

/// <summary>
/// Unstructured and N:M pruning through the compressor, on the digits MLP and CNN (judged on the labelled test split, the
/// first 180 images as calibration data) and on libonnx-testdata's Gemm and Conv tests: every output loads and runs in
/// ONNX Runtime, the zeros are counted in the written model, N:M groups are checked element by element.
/// </summary>
public sealed class PruningTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    public static TheoryData<string> Criteria => new() { "magnitude", "random", "synflow", "wanda", "sparsegpt" };

    [Theory]
    [MemberData(nameof(Criteria))]
    public void Each_criterion_prunes_every_digits_MLP_layer_to_the_fraction_and_the_model_runs(string criterion)
    {
        foreach (double fraction in new[] { 0.5, 0.75 })
        {
            (CompressionOutcome outcome, ModelProto written) = Compress(RepositoryPaths.DigitsModel, $"mlp-{criterion}-{fraction}", s => s
                .Set(PruningSettings.Prune, fraction)
                .Set(PruningSettings.PruneCriterion, criterion));

            PassResult pruning = outcome.Report.Passes.Single(p => p.Pass == "pruning");
            Assert.Equal(3, pruning.Changed.Count);
            foreach (TensorChange change in pruning.Changed)
            {
                float[] values = Weight(written, change.Name);
                long zeros = values.LongCount(v => v == 0);
                // The documented counts: round(fraction · elements) per tensor; Wanda round(fraction · K) per output row;
                // SparseGPT round(fraction · N · block) per block of 128 inputs.
                long k = change.Shape[0], n = change.Shape[1];
                long expected = criterion switch
                {
                    "wanda" => n * WeightSelection.Removed(fraction, k),
                    "sparsegpt" => Enumerable.Range(0, (int)((k + 127) / 128)).Sum(b => WeightSelection.Removed(fraction, n * Math.Min(128, k - (b * 128L)))),
                    _ => WeightSelection.Removed(fraction, values.LongLength),
                };
                Assert.True(zeros >= expected && zeros <= expected + (values.Length / 1000), $"{criterion} {fraction}: {change.Name} has {zeros} zeros, expected {expected}");
                Assert.Equal((double)zeros / values.Length, change.Sparsity, 9);
                Assert.Contains($"({criterion})", change.Technique, StringComparison.Ordinal);
            }

            AccuracyResult accuracy = outcome.Report.Validation!.Accuracy!;
            Assert.True(accuracy.Compressed > 20, $"{criterion} {fraction}: accuracy {accuracy.Compressed}");
            if (fraction == 0.5 && criterion != "random")
            {
                // Half the weights of a trained MLP: within 2 points of the original (one image of 360 is 0.28).
                Assert.True(accuracy.Original - accuracy.Compressed <= 2.0, $"{criterion} 50%: accuracy {accuracy.Original} -> {accuracy.Compressed}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Criteria))]
    public void Each_criterion_prunes_the_digits_CNN_Conv_and_Gemm_weights_and_keeps_it_accurate_at_half(string criterion)
    {
        (CompressionOutcome outcome, ModelProto written) = Compress(RepositoryPaths.DigitsCnnModel, $"cnn-{criterion}", s => s
            .Set(PruningSettings.Prune, 0.5)
            .Set(PruningSettings.PruneCriterion, criterion));

        PassResult pruning = outcome.Report.Passes.Single(p => p.Pass == "pruning");
        // conv1 (288 values) is below the weight threshold; conv2, conv3, fc1 and fc2 are pruned.
        Assert.Equal(["Conv", "Gemm"], pruning.Changed.SelectMany(c => c.OpTypes).Distinct().Order(StringComparer.Ordinal));
        Assert.Equal(4, pruning.Changed.Count);
        Assert.Contains(pruning.LeftAlone, l => l.Name == "conv1.weight" && l.Reason.Contains("below the weight threshold", StringComparison.Ordinal));
        foreach (TensorChange change in pruning.Changed)
        {
            float[] values = Weight(written, change.Name);
            Assert.InRange(values.Count(v => v == 0) / (double)values.Length, 0.49, 0.51);
        }

        AccuracyResult accuracy = outcome.Report.Validation!.Accuracy!;
        double allowed = criterion == "random" ? 40 : 3;
        Assert.True(accuracy.Original - accuracy.Compressed <= allowed, $"{criterion}: accuracy {accuracy.Original} -> {accuracy.Compressed}");
    }

    [Theory]
    [MemberData(nameof(Criteria))]
    public void Two_of_four_leaves_exactly_two_zeros_in_every_group_of_four_inputs_of_every_output(string criterion)
    {
        (CompressionOutcome outcome, ModelProto written) = Compress(RepositoryPaths.DigitsModel, $"nm-{criterion}", s => s
            .Set(PruningSettings.PrunePattern, "2:4")
            .Set(PruningSettings.PruneCriterion, criterion));

        PassResult pruning = outcome.Report.Passes.Single(p => p.Pass == "pruning");
        Assert.Equal(3, pruning.Changed.Count);
        foreach (TensorChange change in pruning.Changed)
        {
            // MatMul weights are [K, N]: the groups run along K, the input, for each output n.
            float[] values = Weight(written, change.Name);
            int k = (int)change.Shape[0], n = (int)change.Shape[1];
            for (int output = 0; output < n; output++)
            {
                for (int start = 0; start < k; start += 4)
                {
                    int zeros = 0;
                    for (int i = start; i < start + 4; i++)
                    {
                        zeros += values[(i * n) + output] == 0 ? 1 : 0;
                    }

                    Assert.True(zeros == 2, $"{criterion}: {change.Name} output {output}, inputs {start}-{start + 3}: {zeros} zeros");
                }
            }

            Assert.Equal(0.5, change.Sparsity, 9);
            Assert.StartsWith($"pruned 2:4 ({criterion})", change.Technique, StringComparison.Ordinal);
        }

        if (criterion is "sparsegpt" or "magnitude")
        {
            AccuracyResult accuracy = outcome.Report.Validation!.Accuracy!;
            Assert.True(accuracy.Original - accuracy.Compressed <= 2.0, $"{criterion} 2:4: accuracy {accuracy.Original} -> {accuracy.Compressed}");
        }
    }

    [Fact]
    public void SparseGPT_loses_less_than_magnitude_at_75_percent_and_the_report_gives_each_layers_output_error()
    {
        (CompressionOutcome magnitude, _) = Compress(RepositoryPaths.DigitsModel, "sg-magnitude", s => s.Set(PruningSettings.Prune, 0.75).Set(DistillationSettings.Distill, false));
        (CompressionOutcome sparseGpt, _) = Compress(RepositoryPaths.DigitsModel, "sg-sparsegpt", s => s
            .Set(PruningSettings.Prune, 0.75)
            .Set(PruningSettings.PruneCriterion, PruningSettings.SparseGpt)
            .Set(DistillationSettings.Distill, false));

        Assert.All(sparseGpt.Report.Passes.Single(p => p.Pass == "pruning").Changed, c => Assert.InRange(c.OutputError!.Value, 0, 0.5));
        double Drop(CompressionOutcome o) => o.Report.Validation!.Accuracy!.Original - o.Report.Validation.Accuracy.Compressed;
        Assert.True(Drop(sparseGpt) < Drop(magnitude), $"SparseGPT drop {Drop(sparseGpt)}, magnitude {Drop(magnitude)}");
    }

    [Theory]
    [InlineData("magnitude", 0.9)]
    [InlineData("sparsegpt", 0.9)]
    [InlineData("wanda", 0.75)]
    public void Distillation_refits_the_kept_weights_to_the_originals_outputs_and_wins_back_accuracy(string criterion, double fraction)
    {
        (CompressionOutcome plain, ModelProto plainModel) = Compress(RepositoryPaths.DigitsModel, $"plain-{criterion}", s => s
            .Set(PruningSettings.Prune, fraction).Set(PruningSettings.PruneCriterion, criterion).Set(DistillationSettings.Distill, false));
        (CompressionOutcome distilled, ModelProto distilledModel) = Compress(RepositoryPaths.DigitsModel, $"distilled-{criterion}", s => s
            .Set(PruningSettings.Prune, fraction).Set(PruningSettings.PruneCriterion, criterion));

        List<TensorChange> changes = distilled.Report.Passes.Single(p => p.Pass == "pruning").Changed.ToList();
        Assert.All(changes, c => Assert.Contains("refit to the original's outputs, bias corrected", c.Technique, StringComparison.Ordinal));
        foreach (TensorChange change in changes)
        {
            // The refit keeps the mask: the zeros are where the criterion put them, and the count is the asked one.
            float[] refit = Weight(distilledModel, change.Name);
            if (criterion == "magnitude")
            {
                float[] plainValues = Weight(plainModel, change.Name);
                Assert.All(Enumerable.Range(0, refit.Length), i => Assert.Equal(plainValues[i] == 0, refit[i] == 0));
            }

            Assert.InRange(change.Sparsity, fraction - 0.001, fraction + 0.01);
            // |X_s W' + b' - X_t W|^2 / |X_t W|^2: at 90% the first layer keeps 0.10-0.12 (0.2-0.5 without the refit).
            Assert.InRange(change.OutputError!.Value, 0, 0.2);
        }

        // The biases moved (the Adds after each MatMul), the model's interface did not.
        ModelProto original = OnnxModelFile.Load(RepositoryPaths.DigitsModel);
        Assert.NotEqual(Weight(original, "fc3.bias"), Weight(distilledModel, "fc3.bias"));
        Assert.Equal(original.Graph.Output.Select(o => o.Name), distilledModel.Graph.Output.Select(o => o.Name));

        double Accuracy(CompressionOutcome o) => o.Report.Validation!.Accuracy!.Compressed;
        Assert.True(Accuracy(distilled) > Accuracy(plain), $"{criterion} {fraction}: distilled {Accuracy(distilled)}, plain {Accuracy(plain)}");
        Assert.True(distilled.Report.Validation!.Accuracy!.Original - Accuracy(distilled) <= 2.5, $"{criterion} {fraction}: distilled {Accuracy(distilled)}");
    }

    [Fact]
    public void Ten_percent_magnitude_pruning_moves_the_logits_little()
    {
        (CompressionOutcome outcome, _) = Compress(RepositoryPaths.DigitsModel, "low", s => s.Set(PruningSettings.Prune, 0.1));
        OutputComparison logits = outcome.Report.Validation!.Outputs.Single(o => o.Name == "logits");
        Assert.True(logits.CosineSimilarity > 0.999, $"cosine {logits.CosineSimilarity}");
        Assert.Equal(outcome.Report.Validation.Accuracy!.Original, outcome.Report.Validation.Accuracy.Compressed, 6);
    }

    [Theory]
    [InlineData("random")]
    [InlineData("synflow")]
    [InlineData("sparsegpt")]
    [InlineData("wanda")]
    public void Compressing_twice_gives_byte_identical_models(string criterion)
    {
        string First(string name) => folder.File(name, "digits_cnn.onnx");
        Compress(RepositoryPaths.DigitsCnnModel, $"twice-a-{criterion}", s => s.Set(PruningSettings.Prune, 0.6).Set(PruningSettings.PruneCriterion, criterion), quantize: true);
        Compress(RepositoryPaths.DigitsCnnModel, $"twice-b-{criterion}", s => s.Set(PruningSettings.Prune, 0.6).Set(PruningSettings.PruneCriterion, criterion), quantize: true);
        Assert.Equal(File.ReadAllBytes(First($"twice-a-{criterion}")), File.ReadAllBytes(First($"twice-b-{criterion}")));
    }

    [Fact]
    public void Random_pruning_depends_on_the_tensor_name_not_on_the_order_of_layers()
    {
        double[] a = WeightSelection.RandomScores("fc2.weight", 1000);
        Assert.Equal(a, WeightSelection.RandomScores("fc2.weight", 1000));
        Assert.NotEqual(a, WeightSelection.RandomScores("fc1.weight", 1000));
        Assert.All(a, v => Assert.InRange(v, 0, 1));
        Assert.InRange(a.Average(), 0.45, 0.55);
    }

    [Theory]
    [InlineData("wanda")]
    [InlineData("sparsegpt")]
    public void A_data_aware_criterion_without_calibration_data_is_OCB0003_saying_what_to_give(string criterion)
    {
        CompressionException error = Assert.Throws<CompressionException>(() => ModelCompressor.Compress(
            new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("nocal", "digits.onnx"))
            {
                Settings = CompressionSettings.Default.Set(PruningSettings.Prune, 0.5).Set(PruningSettings.PruneCriterion, criterion),
            }));

        Assert.Equal(DiagnosticCodes.InvalidSetting, error.Code);
        Assert.Contains($"PruneCriterion={criterion}", error.Message, StringComparison.Ordinal);
        Assert.Contains("needs CalibrationData", error.Message, StringComparison.Ordinal);
        Assert.Contains("set CalibrationData", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("PruneCriterion=magnitude", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder.File("nocal")) && Directory.EnumerateFiles(folder.File("nocal")).Any());
    }

    [Fact]
    public void Settings_that_contradict_each_other_are_OCB0003_naming_them()
    {
        CompressionException disagree = Assert.Throws<CompressionException>(() => ModelCompressor.Compress(
            new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("bad1", "digits.onnx"))
            {
                Settings = CompressionSettings.Default.Set(PruningSettings.Prune, 0.75).Set(PruningSettings.PrunePattern, "2:4"),
            }));
        Assert.Equal(DiagnosticCodes.InvalidSetting, disagree.Code);
        Assert.Contains("Prune=0.75", disagree.Message, StringComparison.Ordinal);
        Assert.Contains("PrunePattern=2:4", disagree.Message, StringComparison.Ordinal);
        Assert.Contains("set it to 0.5", disagree.Message, StringComparison.Ordinal);

        CompressionException global = Assert.Throws<CompressionException>(() => ModelCompressor.Compress(
            new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("bad2", "digits.onnx"))
            {
                Settings = CompressionSettings.Default.Set(PruningSettings.PrunePattern, "1:4").Set(PruningSettings.PruneScope, "global"),
            }));
        Assert.Equal(DiagnosticCodes.InvalidSetting, global.Code);
        Assert.Contains("PruneScope=global", global.Message, StringComparison.Ordinal);
        Assert.Contains("Use PruneScope=layer", global.Message, StringComparison.Ordinal);

        // Prune equal to N/M is accepted.
        (CompressionOutcome agreed, _) = Compress(RepositoryPaths.DigitsModel, "agreed", s => s.Set(PruningSettings.Prune, 0.25).Set(PruningSettings.PrunePattern, "1:4"));
        Assert.All(agreed.Report.Passes.Single(p => p.Pass == "pruning").Changed, c => Assert.Equal(0.25, c.Sparsity, 9));
    }

    [Fact]
    public void Global_scope_removes_the_fraction_over_all_layers_with_one_threshold()
    {
        (CompressionOutcome outcome, ModelProto written) = Compress(RepositoryPaths.DigitsModel, "global", s => s
            .Set(PruningSettings.Prune, 0.75)
            .Set(PruningSettings.PruneScope, PruningSettings.GlobalScope));

        List<TensorChange> changed = outcome.Report.Passes.Single(p => p.Pass == "pruning").Changed.ToList();
        long total = changed.Sum(c => c.Elements);
        long zeros = changed.Sum(c => Weight(written, c.Name).LongCount(v => v == 0));
        Assert.Equal(WeightSelection.Removed(0.75, total), zeros);
        // One threshold: the layers lose different shares, and every kept weight is at least as large as every removed one.
        Assert.True(changed.Select(c => Math.Round(c.Sparsity, 3)).Distinct().Count() > 1);
        ModelProto original = OnnxModelFile.Load(RepositoryPaths.DigitsModel);
        float largestRemoved = 0, smallestKept = float.MaxValue;
        foreach (TensorChange change in changed)
        {
            float[] before = Weight(original, change.Name), after = Weight(written, change.Name);
            for (int i = 0; i < before.Length; i++)
            {
                if (after[i] == 0)
                {
                    largestRemoved = Math.Max(largestRemoved, Math.Abs(before[i]));
                }
                else
                {
                    smallestKept = Math.Min(smallestKept, Math.Abs(before[i]));
                }
            }
        }

        Assert.True(largestRemoved <= smallestKept, $"removed up to {largestRemoved}, kept from {smallestKept}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Global_Wanda_scores_every_layer_before_any_is_pruned_and_removes_the_fraction_over_all(bool distill)
    {
        (CompressionOutcome outcome, ModelProto written) = Compress(RepositoryPaths.DigitsModel, $"global-wanda-{distill}", s => s
            .Set(PruningSettings.Prune, 0.75)
            .Set(PruningSettings.PruneCriterion, PruningSettings.Wanda)
            .Set(PruningSettings.PruneScope, PruningSettings.GlobalScope)
            .Set(DistillationSettings.Distill, distill));

        List<TensorChange> changed = outcome.Report.Passes.Single(p => p.Pass == "pruning").Changed.ToList();
        Assert.Equal(3, changed.Count);
        long zeros = changed.Sum(c => Weight(written, c.Name).LongCount(v => v == 0));
        Assert.Equal(WeightSelection.Removed(0.75, changed.Sum(c => c.Elements)), zeros);
        Assert.True(outcome.Report.Validation!.Accuracy!.Compressed > 50);
    }

    [Fact]
    public void Overrides_prune_per_op_type_and_node_and_none_leaves_a_node_alone()
    {
        string overrides = folder.File("overrides.json");
        File.WriteAllText(overrides, """
            { "opTypes": { "Conv": { "PruneCriterion": "sparsegpt" }, "Gemm": { "Prune": 0.25 } },
              "nodes": { "/fc2/Gemm": "none" } }
            """);
        ModelProto cnn = OnnxModelFile.Load(RepositoryPaths.DigitsCnnModel);
        string fc2 = cnn.Graph.Node.Single(n => n.OpType == "Gemm" && n.Input[1] == "fc2.weight").Name;
        File.WriteAllText(overrides, File.ReadAllText(overrides).Replace("/fc2/Gemm", fc2, StringComparison.Ordinal));
        (CompressionOutcome outcome, ModelProto written) = Compress(RepositoryPaths.DigitsCnnModel, "overrides", s => s
            .Set(PruningSettings.Prune, 0.5)
            .Set(Compression.Core.Settings.SettingsCatalog.Overrides, overrides));

        var changed = outcome.Report.Passes.Single(p => p.Pass == "pruning").Changed.ToDictionary(c => c.Name);
        Assert.Equal(["conv2.weight", "conv3.weight", "fc1.weight"], changed.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("(sparsegpt)", changed["conv2.weight"].Technique, StringComparison.Ordinal);
        Assert.StartsWith("pruned 25% unstructured (magnitude)", changed["fc1.weight"].Technique, StringComparison.Ordinal);
        Assert.Equal(0.25, changed["fc1.weight"].Sparsity, 9);
        Assert.Equal(Weight(cnn, "fc2.weight"), Weight(written, "fc2.weight"));
    }

    [Fact]
    public void Nothing_is_pruned_or_reported_by_default()
    {
        (CompressionOutcome outcome, ModelProto written) = Compress(RepositoryPaths.DigitsModel, "default", s => s, quantize: true);
        Assert.DoesNotContain(outcome.Report.Passes, p => p.Pass == "pruning");
        Assert.All(outcome.Report.Changed, c => Assert.Equal(0, c.Sparsity));
    }

    public static TheoryData<string> BackendModels => new()
    {
        "pytorch-converted/test_Conv2d", "pytorch-converted/test_Conv2d_no_bias", "pytorch-converted/test_Conv2d_strided",
        "pytorch-converted/test_Conv2d_padding", "pytorch-converted/test_Conv2d_dilated", "pytorch-converted/test_Linear",
        "node/test_gemm_transposeB", "node/test_gemm_default_no_bias",
    };

    [Theory]
    [MemberData(nameof(BackendModels))]
    public void A_libonnx_Conv_or_Gemm_model_pruned_by_SparseGPT_has_the_output_error_its_report_predicts(string name)
    {
        // The report's output error comes from the input statistics the pass recorded (im2col patches for Conv, transB for
        // Gemm); ONNX Runtime's outputs on the same samples must show the same error.
        (string modelPath, string data) = BackendModel(name);
        CompressionSettings Settings(bool prune) => (prune ? CompressionSettings.Default.Set(PruningSettings.Prune, 0.5) : CompressionSettings.Default)
            .Set(QuantizationSettings.Quantize, QuantizationSettings.None)
            .Set(QuantizationSettings.WeightThreshold, 0L)
            .Set(PruningSettings.PruneCriterion, PruningSettings.SparseGpt)
            .Set(EvaluationSettings.CalibrationData, data)
            .Set(EvaluationSettings.ValidationData, data);
        (CompressionOutcome outcome, ModelProto written) = CompressWith(modelPath, $"backend-{name}", Settings(prune: true));
        // The original as the compressor reads it (raised to opset 7 where it is older): compressed with nothing to do.
        (_, ModelProto reference) = CompressWith(modelPath, $"backend-reference-{name}", Settings(prune: false));

        TensorChange change = Assert.Single(outcome.Report.Passes.Single(p => p.Pass == "pruning").Changed);
        Assert.Equal(WeightSelection.Removed(0.5, change.Elements), Weight(written, change.Name).Count(v => v == 0));

        // What the weight contributes to the output: the output less the output with the weight at zero (the bias part).
        ModelProto zeroed = reference.Clone();
        TensorProto weight = zeroed.Graph.Initializer.Single(t => t.Name == change.Name);
        TensorProto zeros = TensorValues.Create<float>(weight.Name, [.. weight.Dims], new float[change.Elements]);
        weight.RawData = zeros.RawData;
        weight.FloatData.Clear();
        var inputs = new Dictionary<string, OnnxTensor>();
        var initializers = new HashSet<string>(reference.Graph.Initializer.Select(t => t.Name), StringComparer.Ordinal);
        int slot = 0;
        foreach (ValueInfoProto input in reference.Graph.Input.Where(i => !initializers.Contains(i.Name)))
        {
            inputs[input.Name] = TensorConversion.ToOnnxTensor(OnnxDataFile.LoadTensor(Path.Combine(data, $"input_{slot++}.pb")));
        }

        float[] Output(ModelProto model) => Ort.Run(OnnxModelFile.ToBytes(model), inputs).Values.Single().As<float>().Span.ToArray();
        float[] before = Output(reference), after = Output(written), biasPart = Output(zeroed);
        double error = 0, signal = 0;
        for (int i = 0; i < before.Length; i++)
        {
            error += (before[i] - (double)after[i]) * (before[i] - (double)after[i]);
            signal += (before[i] - (double)biasPart[i]) * (before[i] - (double)biasPart[i]);
        }

        Assert.True(error > 0);
        Assert.Equal(error / signal, change.OutputError!.Value, 4);
    }

    /// <summary>A libonnx-testdata model with its weight as an initializer, and a folder of its other inputs as samples.</summary>
    private (string Model, string Data) BackendModel(string name)
    {
        if (name.StartsWith("pytorch-converted/", StringComparison.Ordinal))
        {
            string testDir = Path.Combine(AssemblyMetadata.OnnxTestDataDir, name);
            return (Path.Combine(testDir, "model.onnx"), Path.Combine(testDir, "test_data_set_0"));
        }

        (ModelProto model, _, string dataDir) = NodeTestModel.WithWeightAsInitializer(name["node/".Length..]);
        string folderName = name.Replace('/', '-');
        string data = folder.File(folderName, "data");
        Directory.CreateDirectory(data);
        // input_1 became the initializer: the inputs after it move up one.
        File.Copy(Path.Combine(dataDir, "input_0.pb"), Path.Combine(data, "input_0.pb"));
        for (int i = 2; File.Exists(Path.Combine(dataDir, $"input_{i}.pb")); i++)
        {
            File.Copy(Path.Combine(dataDir, $"input_{i}.pb"), Path.Combine(data, $"input_{i - 1}.pb"));
        }

        string path = folder.File(folderName, "model.onnx");
        OnnxModelFile.Save(model, path);
        return (path, data);
    }

    [Theory]
    [InlineData("int8", "dynamic", "rtn", 0L)]
    [InlineData("int8", "dynamic", "rtn", 131072L)]
    [InlineData("int4", "weight-only", "rtn", 131072L)]
    [InlineData("int4", "weight-only", "gptq", 131072L)]
    public void Pruned_zeros_stay_exactly_zero_in_every_quantized_form(string quantize, string mode, string algorithm, long dynamicThreshold)
    {
        CompressionSettings Pruned(CompressionSettings s) => s.Set(PruningSettings.Prune, 0.75).Set(PruningSettings.PruneCriterion, PruningSettings.SparseGpt);
        (_, ModelProto pruned) = Compress(RepositoryPaths.DigitsModel, "float", Pruned);
        (CompressionOutcome outcome, ModelProto quantized) = Compress(RepositoryPaths.DigitsModel, $"q-{quantize}-{mode}-{algorithm}-{dynamicThreshold}", s => Pruned(s)
            .Set(QuantizationSettings.Quantize, quantize)
            .Set(QuantizationSettings.QuantizeMode, mode)
            .Set(QuantizationSettings.Algorithm, algorithm)
            .Set(QuantizationSettings.DynamicThreshold, dynamicThreshold), quantize: true);

        foreach (TensorChange change in outcome.Report.Passes.Single(p => p.Pass == "weight-quantization").Changed)
        {
            float[] weights = Weight(pruned, change.Name);
            int k = (int)change.Shape[0], n = (int)change.Shape[1];
            Func<int, int, bool> isZero = ZeroLevels(quantized, change.Name, k, n);
            int zeros = 0;
            for (int i = 0; i < k; i++)
            {
                for (int o = 0; o < n; o++)
                {
                    if (weights[(i * n) + o] == 0)
                    {
                        zeros++;
                        Assert.True(isZero(i, o), $"{quantize} {mode} {algorithm}: {change.Name}[{i}, {o}] was pruned and is no longer zero");
                    }
                }
            }

            Assert.Equal((double)zeros / weights.Length, change.Sparsity, 9);
            Assert.InRange(change.Sparsity, 0.75, 0.76);
        }

        Assert.True(outcome.Report.Validation!.Accuracy!.Compressed > 90, $"accuracy {outcome.Report.Validation.Accuracy.Compressed}");
    }

    [Fact]
    public void GPTQ_keeps_zero_weights_at_zero_and_still_beats_rounding()
    {
        const int n = 32, k = 128;
        float[] weights = SeededValues.Uniform(3, n * k, 0.5f);
        for (int i = 0; i < weights.Length; i += 3)
        {
            weights[i] = 0;
        }

        var random = new Random(4);
        var x = new float[256 * k];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)(random.NextDouble() - 0.3);
        }

        var hessian = new double[k * k];
        for (int r = 0; r < 256; r++)
        {
            for (int i = 0; i < k; i++)
            {
                for (int j = 0; j < k; j++)
                {
                    hessian[(i * k) + j] += (double)x[(r * k) + i] * x[(r * k) + j];
                }
            }
        }

        var format = new BlockFormat(4, 32, Symmetric: false);
        BlockQuantizedWeight gptq = Gptq.Quantize(weights, n, k, hessian, format);
        for (int row = 0; row < n; row++)
        {
            for (int col = 0; col < k; col++)
            {
                if (weights[(row * k) + col] == 0)
                {
                    Assert.Equal(0f, gptq.Dequantize(row, col));
                }
            }
        }

        BlockQuantizedWeight rounded = BlockQuantization.Quantize(weights, n, k, format);
        Assert.True(Gptq.RelativeOutputError(weights, gptq, hessian) < Gptq.RelativeOutputError(weights, rounded, hessian));
    }

    [Fact]
    public void SparseGPT_prunes_the_asked_count_and_moves_outputs_less_than_magnitude_on_correlated_inputs()
    {
        const int n = 24, k = 96, rows = 400;
        var random = new Random(8);
        float[] mixing = SeededValues.Uniform(9, 6 * k);
        float[] x = SeededValues.CorrelatedRows(random, mixing, 6, rows, k, 0.05f);
        double[] hessian = SeededValues.Gram(x, rows, k);

        float[] original = SeededValues.Uniform(10, n * k, 0.3f);
        float[] pruned = (float[])original.Clone();
        bool[] mask = SparseGpt.Prune(pruned, n, k, hessian, 0.6);
        Assert.Equal(WeightSelection.Removed(0.6, n * k), mask.Count(m => m));
        Assert.All(Enumerable.Range(0, pruned.Length).Where(i => mask[i]), i => Assert.Equal(0f, pruned[i]));

        double[] magnitudes = original.Select(v => (double)Math.Abs(v)).ToArray();
        var magnitudeMask = new bool[original.Length];
        WeightSelection.Smallest(magnitudes, magnitudeMask, WeightSelection.Removed(0.6, n * k));
        float[] magnitude = original.Select((v, i) => magnitudeMask[i] ? 0f : v).ToArray();
        double sparseGptError = SparseGpt.RelativeOutputError(original, pruned, n, k, hessian);
        double magnitudeError = SparseGpt.RelativeOutputError(original, magnitude, n, k, hessian);
        Assert.True(sparseGptError < magnitudeError * 0.5, $"SparseGPT {sparseGptError}, magnitude {magnitudeError}");

        float[] nm = (float[])original.Clone();
        bool[] nmMask = SparseGpt.Prune(nm, n, k, hessian, 0.5, 2, 4);
        for (int row = 0; row < n; row++)
        {
            for (int start = 0; start < k; start += 4)
            {
                Assert.Equal(2, Enumerable.Range(start, 4).Count(c => nmMask[(row * k) + c] && nm[(row * k) + c] == 0));
            }
        }
    }

    [Fact]
    public void A_shared_weight_is_pruned_when_its_readers_agree_and_left_alone_when_they_do_not()
    {
        float[] values = SeededValues.Uniform(12, 64 * 64);
        ModelProto model = new ModelBuilder()
            .Input("x", TensorProto.Types.DataType.Float, 2, 64)
            .Initializer("w", [64, 64], values)
            .Node("MatMul", ["x", "w"], ["h"])
            .Node("Relu", ["h"], ["r"])
            .Node("MatMul", ["r", "w"], ["y"])
            .Output("y", TensorProto.Types.DataType.Float, 2, 64)
            .Build();
        model.Graph.Node[0].Name = "first";
        model.Graph.Node[2].Name = "second";
        string path = folder.File("shared.onnx");
        OnnxModelFile.Save(model, path);

        (CompressionOutcome agreed, ModelProto agreedModel) = CompressWith(path, "shared-agreed", CompressionSettings.Default
            .Set(QuantizationSettings.Quantize, QuantizationSettings.None).Set(PruningSettings.Prune, 0.5));
        TensorChange change = Assert.Single(agreed.Report.Passes.Single(p => p.Pass == "pruning").Changed);
        Assert.Equal(["first", "second"], change.Nodes);
        Assert.Equal(2048, Weight(agreedModel, "w").Count(v => v == 0));

        string overrides = folder.File("shared.json");
        File.WriteAllText(overrides, """{ "nodes": { "second": { "Prune": 0.25 } } }""");
        (CompressionOutcome differ, ModelProto differModel) = CompressWith(path, "shared-differ", CompressionSettings.Default
            .Set(QuantizationSettings.Quantize, QuantizationSettings.None).Set(PruningSettings.Prune, 0.5)
            .Set(Compression.Core.Settings.SettingsCatalog.Overrides, overrides));
        TensorLeftAlone left = Assert.Single(differ.Report.Passes.Single(p => p.Pass == "pruning").LeftAlone);
        Assert.Contains("whose pruning settings differ", left.Reason, StringComparison.Ordinal);
        Assert.Equal(values, Weight(differModel, "w"));
    }

    [Fact]
    public void SynFlow_follows_the_CNN_chain_through_Flatten_and_scores_the_conservation_of_flow()
    {
        // In a chain SynFlow's scores sum to the same R in every layer (conservation of synaptic flow).
        var layers = new List<SynFlowLayer>
        {
            new("a", SeededValues.Uniform(20, 8 * 3 * 9), 8, 3, 9),
            new("b", SeededValues.Uniform(21, 4 * 8 * 9), 4, 8, 9) { Predecessor = 0 },
            new("c", SeededValues.Uniform(22, 5 * 4 * 6), 5, 4 * 6, 1) { Predecessor = 1, Expansion = 6 },
        };
        Dictionary<SynFlowLayer, double[]> scores = SynFlow.Scores(layers);
        double r = scores[layers[0]].Sum();
        Assert.All(layers, l => Assert.Equal(1.0, scores[l].Sum() / r, 9));

        layers[1].Fraction = 0.8;
        layers[2].Fraction = 0.8;
        SynFlow.Prune(layers, global: true);
        Assert.Equal(WeightSelection.Removed(0.8, layers[1].Weights.Length + layers[2].Weights.Length), layers[1].Mask.Count(m => m) + layers[2].Mask.Count(m => m));
        Assert.DoesNotContain(true, layers[0].Mask);
    }

    private (CompressionOutcome Outcome, ModelProto Written) Compress(string model, string name, Func<CompressionSettings, CompressionSettings> settings, bool quantize = false)
    {
        string samples = DigitsSamples();
        string output = folder.File(name, Path.GetFileName(model));
        CompressionSettings chosen = settings(CompressionSettings.Default
            .Set(EvaluationSettings.ValidationData, samples)
            .Set(EvaluationSettings.CalibrationData, CalibrationSamples()));
        if (!quantize)
        {
            chosen = chosen.Set(QuantizationSettings.Quantize, QuantizationSettings.None);
        }

        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(model, output) { Settings = chosen });
        return (outcome, OnnxModelFile.Load(output));
    }

    private (CompressionOutcome Outcome, ModelProto Written) CompressWith(string model, string name, CompressionSettings settings)
    {
        string output = folder.File(name, Path.GetFileName(model));
        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(model, output) { Settings = settings });
        return (outcome, OnnxModelFile.Load(output));
    }

    /// <summary>
    /// Whether element [i, o] of a [K, N] MatMul weight is exactly zero in the quantized model: the level equals the zero point
    /// (folded int8: the centered level is 0; MatMulInteger: the per-column zero point; MatMulNBits, symmetric: the midpoint 8).
    /// </summary>
    private static Func<int, int, bool> ZeroLevels(ModelProto model, string name, int k, int n)
    {
        TensorProto levels = model.Graph.Initializer.Single(t => t.Name == name + "_quantized");
        NodeProto? nbits = model.Graph.Node.FirstOrDefault(x => x.OpType == "MatMulNBits" && x.Input[1] == levels.Name);
        if (nbits is not null)
        {
            byte[] packed = levels.ToArray<byte>();
            int blockSize = (int)nbits.Attribute.Single(a => a.Name == "block_size").I;
            int blocks = (k + blockSize - 1) / blockSize, blob = blockSize / 2;
            Assert.Equal(3, nbits.Input.Count);
            return (i, o) =>
            {
                byte b = packed[(((o * blocks) + (i / blockSize)) * blob) + ((i % blockSize) / 2)];
                return ((b >> (4 * (i % 2))) & 0xF) == 8;
            };
        }

        if (levels.DataType == (int)TensorProto.Types.DataType.Int8)
        {
            sbyte[] centered = levels.ToArray<sbyte>();
            return (i, o) => centered[(i * n) + o] == 0;
        }

        byte[] stored = levels.ToArray<byte>();
        byte[] zeroPoints = model.Graph.Initializer.Single(t => t.Name == name + "_zero_point").ToArray<byte>();
        return (i, o) => stored[(i * n) + o] == zeroPoints[o];
    }

    private static float[] Weight(ModelProto model, string name) =>
        model.Graph.Initializer.Single(t => t.Name == name).ToArray<float>();

    private string DigitsSamples() => Samples("validation", 0, 360);

    private string CalibrationSamples() => Samples("calibration", 0, 180);

    private string Samples(string name, int first, int rows)
    {
        string data = folder.File(name);
        if (Directory.Exists(data))
        {
            return data;
        }

        DigitsTestSet testSet = DigitsTestSet.Load();
        return testSet.WriteSamples(data, first, rows);
    }
}
