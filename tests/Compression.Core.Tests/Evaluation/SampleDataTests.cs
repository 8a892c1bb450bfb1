using Compression.Core.Evaluation;
using Compression.Core.Passes.Quantization;
using Compression.Core.Runtime;
using Compression.Core.Settings;
using Compression.Core.Tests.Support;
using Compression.Onnx;

namespace Compression.Core.Tests.Evaluation;

/// <summary>Samples from NumPy files and ONNX test-data folders, labels, accuracy, and the gates that judge a compressed model.</summary>
public sealed class SampleDataTests : IDisposable
{
    private readonly TemporaryFolder folder = new();
    private readonly DigitsTestSet testSet = DigitsTestSet.Load();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void NumPy_samples_with_labels_give_accuracy_of_both_models_in_runs_of_32()
    {
        string data = NumPyDigits(rows: 100);

        CompressionOutcome outcome = Compress(CompressionSettings.Default.Set(EvaluationSettings.ValidationData, data));

        ValidationResult validation = outcome.Report.Validation!;
        Assert.Equal(100, validation.Samples);
        Assert.Equal(data, validation.Source);
        Assert.Equal([32L, 64L], validation.Inputs[0].Shape);
        Assert.Equal("pixels.npy", validation.Inputs[0].Origin);
        AccuracyResult accuracy = validation.Accuracy!;
        Assert.Equal(("logits", "labels.npy", 100L), (accuracy.Output, accuracy.Labels, accuracy.Samples));
        Assert.Equal(ExpectedAccuracy(RepositoryPaths.DigitsModel, 100), accuracy.Original, 6);
        Assert.Equal(ExpectedAccuracy(folder.File("digits.onnx"), 100, compressed: true), accuracy.Compressed, 6);
        OutputComparison logits = validation.Outputs[0];
        Assert.NotNull(logits.Top1Agreement);
        Assert.InRange(logits.Top1Agreement!.Value, 0.97, 1.0);
    }

    [Fact]
    public void Test_data_subfolders_are_one_run_each_and_their_expected_outputs_label_the_rows()
    {
        string data = folder.File("test-data");
        for (int run = 0; run < 3; run++)
        {
            string set = Path.Combine(data, $"test_data_set_{run}");
            Directory.CreateDirectory(set);
            OnnxTensor<float> images = new(testSet.PixelValues.AsSpan(run * 5 * 64, 5 * 64).ToArray(), [5, 64]);
            OnnxDataFile.Save(TensorValues.Create<float>("pixels", [5, 64], images.Span), Path.Combine(set, "input_0.pb"));
            // Expected outputs: one-hot logits of the true labels.
            var onehot = new float[5 * 10];
            for (int row = 0; row < 5; row++)
            {
                onehot[(row * 10) + testSet.Labels[(run * 5) + row]] = 1;
            }

            OnnxDataFile.Save(TensorValues.Create<float>("logits", [5, 10], onehot), Path.Combine(set, "output_0.pb"));
        }

        CompressionOutcome outcome = Compress(CompressionSettings.Default.Set(EvaluationSettings.ValidationData, data));

        ValidationResult validation = outcome.Report.Validation!;
        Assert.Equal(15, validation.Samples);
        Assert.Equal("the expected outputs' highest scores", validation.Accuracy!.Labels);
        Assert.Equal(ExpectedAccuracy(RepositoryPaths.DigitsModel, 15), validation.Accuracy.Original, 6);
    }

    [Theory]
    [InlineData("missing-labels", "one int64 class index per sample")]
    [InlineData("wrong-count", "holds 7 labels for 10 samples")]
    [InlineData("no-input", "none for input 'pixels'")]
    [InlineData("not-numpy", "does not start with NumPy's .npy signature")]
    public void A_NumPy_folder_that_does_not_fit_is_OCB0103_and_writes_nothing(string problem, string message)
    {
        string data = folder.File("samples");
        Directory.CreateDirectory(data);
        switch (problem)
        {
            case "missing-labels":
                NumPyWriter.Write<float>(Path.Combine(data, "pixels.npy"), new float[10 * 64], 10, 64);
                NumPyWriter.Write<float>(Path.Combine(data, "labels.npy"), new float[10], 10);
                break;
            case "wrong-count":
                NumPyWriter.Write<float>(Path.Combine(data, "pixels.npy"), new float[10 * 64], 10, 64);
                NumPyWriter.Write<long>(Path.Combine(data, "labels.npy"), new long[7], 7);
                break;
            case "no-input":
                NumPyWriter.Write<float>(Path.Combine(data, "other.npy"), new float[10 * 64], 10, 64);
                break;
            default:
                File.WriteAllText(Path.Combine(data, "pixels.npy"), "not numpy");
                break;
        }

        CompressionException e = Assert.Throws<CompressionException>(() => Compress(CompressionSettings.Default.Set(EvaluationSettings.ValidationData, data)));

        Assert.Equal(DiagnosticCodes.InvalidValidationData, e.Code);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Contains("OnnxValidationData (--validation-data)", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(folder.File("digits.onnx")));
    }

    [Fact]
    public void A_missed_gate_fails_with_OCB0104_the_figures_and_the_gate_and_writes_nothing()
    {
        CompressionException e = Assert.Throws<CompressionException>(() => Compress(CompressionSettings.Default
            .Set(EvaluationSettings.MinCosineSimilarity, "1", new SettingOrigin(SettingLevel.Project, "project property OnnxMinCosineSimilarity"))));

        Assert.Equal(DiagnosticCodes.GateMissed, e.Code);
        Assert.Contains("the lowest output cosine similarity is 0.99", e.Message, StringComparison.Ordinal);
        Assert.Contains("below MinCosineSimilarity=1 (project property OnnxMinCosineSimilarity)", e.Message, StringComparison.Ordinal);
        Assert.Contains("Nothing was written", e.Message, StringComparison.Ordinal);
        Assert.Empty(folder.ListFiles());
    }

    [Fact]
    public void With_CompressionGate_warn_a_missed_gate_is_warning_OCB0202_and_the_model_is_written()
    {
        CompressionOutcome outcome = Compress(CompressionSettings.Default
            .Set(EvaluationSettings.MaxOutputError, 1e-6)
            .Set(EvaluationSettings.CompressionGate, EvaluationSettings.GateWarn));

        CompressionWarning warning = Assert.Single(outcome.Warnings);
        Assert.Equal(DiagnosticCodes.GateMissedWarning, warning.Code);
        Assert.Contains("above MaxOutputError=1E-06", warning.Message, StringComparison.Ordinal);
        GateCheck gate = Assert.Single(outcome.Report.Validation!.Gates);
        Assert.False(gate.Passed);
        Assert.True(File.Exists(folder.File("digits.onnx")));
    }

    [Fact]
    public void Gates_that_are_met_are_reported_as_met()
    {
        string data = NumPyDigits(rows: 64);

        CompressionOutcome outcome = Compress(CompressionSettings.Default
            .Set(EvaluationSettings.ValidationData, data)
            .Set(EvaluationSettings.MaxAccuracyDrop, 1.0)
            .Set(EvaluationSettings.MinCosineSimilarity, 0.999)
            .Set(EvaluationSettings.MaxOutputError, 0.1));

        Assert.Equal(["MaxAccuracyDrop", "MinCosineSimilarity", "MaxOutputError"], outcome.Report.Validation!.Gates.Select(g => g.Gate));
        Assert.All(outcome.Report.Validation.Gates, g => Assert.True(g.Passed, g.ToString()));
    }

    [Fact]
    public void MaxAccuracyDrop_without_labels_is_OCB0103_and_a_gate_without_validation_is_OCB0003()
    {
        CompressionException noLabels = Assert.Throws<CompressionException>(() => Compress(CompressionSettings.Default.Set(EvaluationSettings.MaxAccuracyDrop, 1.0)));
        CompressionException noValidation = Assert.Throws<CompressionException>(() => Compress(CompressionSettings.Default
            .Set(EvaluationSettings.MaxOutputError, 0.1).Set(EvaluationSettings.Validate, false)));

        Assert.Equal(DiagnosticCodes.InvalidValidationData, noLabels.Code);
        Assert.Contains("needs labelled validation data", noLabels.Message, StringComparison.Ordinal);
        Assert.Equal(DiagnosticCodes.InvalidSetting, noValidation.Code);
        Assert.Contains("validation is off", noValidation.Message, StringComparison.Ordinal);
        Assert.Empty(folder.ListFiles());
    }

    [Fact]
    public void The_activation_recorder_streams_values_to_collectors_that_match_a_direct_computation()
    {
        string data = NumPyDigits(rows: 96);
        var model = OnnxModelFile.Load(RepositoryPaths.DigitsModel);
        SampleSet samples = SampleSet.Load(data, ModelInterface.Inputs(model), RepositoryPaths.DigitsModel, EvaluationSettings.CalibrationData);
        var minMax = new MinMaxCollector("pixels");
        var statistics = new ChannelStatisticsCollector("pixels", withGram: true);
        var hidden = new MinMaxCollector("relu1");
        var histogram = new HistogramCollector("relu1", 0, 32, 8);

        ActivationRecorder.Record(model, samples, [minMax, statistics, hidden, histogram], RepositoryPaths.DigitsModel);

        float[] pixels = testSet.PixelValues.AsSpan(0, 96 * 64).ToArray();
        Assert.Equal((pixels.Min(), pixels.Max()), (minMax.Min, minMax.Max));
        Assert.Equal(96, statistics.Rows);
        for (int i = 0; i < 64; i += 9)
        {
            for (int j = 0; j < 64; j += 7)
            {
                double expected = 0;
                for (int row = 0; row < 96; row++)
                {
                    expected += (double)pixels[(row * 64) + i] * pixels[(row * 64) + j];
                }

                Assert.Equal(expected, statistics.Gram[(i * 64) + j], 6);
            }

            Assert.Equal(statistics.Gram[(i * 64) + i], statistics.SumOfSquares[i], 6);
        }

        Assert.Equal(0f, hidden.Min);
        Assert.True(hidden.Max > 0);
        Assert.Equal(96L * 256, histogram.Counts.Sum());
    }

    /// <summary>The first <paramref name="rows"/> test images and labels as pixels.npy and labels.npy.</summary>
    private string NumPyDigits(int rows)
    {
        string data = folder.File("numpy");
        Directory.CreateDirectory(data);
        NumPyWriter.Write<float>(Path.Combine(data, "pixels.npy"), testSet.PixelValues.AsSpan(0, rows * 64), rows, 64);
        NumPyWriter.Write<long>(Path.Combine(data, "labels.npy"), testSet.Labels.Take(rows).Select(l => (long)l).ToArray(), rows);
        return data;
    }

    private double ExpectedAccuracy(string model, int rows, bool compressed = false)
    {
        var options = new OnnxSessionOptions { IntraOpThreads = 1 };
        if (compressed)
        {
            options.ConfigEntries[WeightQuantizer.DisableQdqConfigKey] = "1";
        }

        using var session = new OnnxSession(model, options);
        float[] logits = session.Run(["pixels"], [testSet.Images(rows)], ["logits"])[0].As<float>().ToArray();
        int correct = 0;
        for (int row = 0; row < rows; row++)
        {
            correct += Array.IndexOf(logits, logits.AsSpan(row * 10, 10).ToArray().Max(), row * 10, 10) - (row * 10) == testSet.Labels[row] ? 1 : 0;
        }

        return 100.0 * correct / rows;
    }

    private CompressionOutcome Compress(CompressionSettings settings) =>
        ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("digits.onnx")) { Settings = settings });
}
