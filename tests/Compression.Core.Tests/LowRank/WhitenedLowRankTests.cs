using Compression.Core.Evaluation;
using Compression.Core.Passes;
using Compression.Core.Passes.Distillation;
using Compression.Core.Passes.LowRank;
using Compression.Core.Passes.Quantization;
using Compression.Core.Runtime;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;
using Xunit.Abstractions;

namespace Compression.Core.Tests.LowRank;

/// <summary>Low-rank factorization through the compressor on the digits MLP, with and without calibration data.</summary>
public sealed class WhitenedLowRankTests(ITestOutputHelper output) : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void Whitening_moves_the_held_out_outputs_less_than_plain_SVD_and_distillation_keeps_the_accuracy_within_a_point()
    {
        // The test split's 360 images: the first 180 calibrate, the last 180 judge. Only low-rank: no quantization.
        string calibration = DigitsSamples("calibration", 0, 180);
        string plainPath = folder.File("plain", "digits.onnx"), whitenedPath = folder.File("whitened", "digits.onnx");
        CompressionOutcome plain = Compress(plainPath, CompressionSettings.Default.Set(QuantizationSettings.Quantize, QuantizationSettings.None).Set(LowRankSettings.LowRank, 0.5));
        CompressionOutcome whitened = Compress(whitenedPath, CompressionSettings.Default.Set(QuantizationSettings.Quantize, QuantizationSettings.None).Set(LowRankSettings.LowRank, 0.5)
            .Set(EvaluationSettings.CalibrationData, calibration).Set(DistillationSettings.Distill, false));

        string distilledPath = folder.File("distilled", "digits.onnx");
        CompressionOutcome distilled = Compress(distilledPath, CompressionSettings.Default.Set(QuantizationSettings.Quantize, QuantizationSettings.None)
            .Set(LowRankSettings.LowRank, 0.5).Set(EvaluationSettings.CalibrationData, calibration));

        double original = HeldOutAccuracy(RepositoryPaths.DigitsModel), plainAccuracy = HeldOutAccuracy(plainPath);
        double whitenedAccuracy = HeldOutAccuracy(whitenedPath), distilledAccuracy = HeldOutAccuracy(distilledPath);
        double plainError = HeldOutLogitError(plainPath), whitenedError = HeldOutLogitError(whitenedPath), distilledError = HeldOutLogitError(distilledPath);
        output.WriteLine($"held-out accuracy: original {original:P1}, plain SVD {plainAccuracy:P1}, whitened {whitenedAccuracy:P1}, whitened + distilled {distilledAccuracy:P1}");
        output.WriteLine($"held-out mean |logit error|: plain {plainError:G4}, whitened {whitenedError:G4}, whitened + distilled {distilledError:G4}");
        foreach (TensorChange change in whitened.Report.Changed.Concat(distilled.Report.Changed))
        {
            output.WriteLine($"{change.Name}: {change.Technique}, output error {change.OutputError:G4}");
        }

        Assert.All(distilled.Report.Changed, change => Assert.EndsWith(", whitened, refit to the original's outputs", change.Technique, StringComparison.Ordinal));
        Assert.True(distilledAccuracy >= original - 0.01, $"distilled accuracy {distilledAccuracy:P1} against {original:P1}");

        Assert.All(whitened.Report.Changed, change =>
        {
            Assert.EndsWith(", whitened", change.Technique, StringComparison.Ordinal);
            Assert.InRange(change.OutputError!.Value, 0, 1);
        });
        Assert.All(plain.Report.Changed, change => Assert.Null(change.OutputError));
        Assert.Contains(whitened.Report.Passes.SelectMany(p => p.Techniques), t => t.Contains("whitened by the calibration activations", StringComparison.Ordinal));
        Assert.True(whitenedError < plainError, $"held-out logit error: whitened {whitenedError}, plain {plainError}");
        Assert.True(whitenedAccuracy >= original - 0.03, $"whitened accuracy {whitenedAccuracy:P1} against {original:P1}");
    }

    [Fact]
    public void The_digits_CNN_refits_its_factorized_Conv_and_Gemm_layers_with_their_biases()
    {
        string calibration = DigitsSamples("calibration", 0, 180);
        string plainPath = folder.File("cnn-plain", "digits_cnn.onnx"), distilledPath = folder.File("cnn-distilled", "digits_cnn.onnx");
        CompressionSettings settings = CompressionSettings.Default.Set(QuantizationSettings.Quantize, QuantizationSettings.None).Set(LowRankSettings.LowRank, 0.5);
        CompressionOutcome plain = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsCnnModel, plainPath) { Settings = settings });
        CompressionOutcome distilled = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsCnnModel, distilledPath)
        {
            Settings = settings.Set(EvaluationSettings.CalibrationData, calibration),
        });

        double original = HeldOutAccuracy(RepositoryPaths.DigitsCnnModel), plainAccuracy = HeldOutAccuracy(plainPath), distilledAccuracy = HeldOutAccuracy(distilledPath);
        output.WriteLine($"CNN held-out accuracy: original {original:P1}, plain SVD {plainAccuracy:P1}, distilled {distilledAccuracy:P1}");
        foreach (TensorChange change in distilled.Report.Changed)
        {
            output.WriteLine($"{change.Name} ({string.Join("/", change.OpTypes)}): {change.Technique}, output error {change.OutputError:G4}");
        }

        Assert.Contains(distilled.Report.Changed, c => c.OpTypes.Contains("Conv") && c.Technique.EndsWith("refit to the original's outputs", StringComparison.Ordinal));
        Assert.Contains(distilled.Report.Changed, c => c.OpTypes.Contains("Gemm") && c.Technique.EndsWith("whitened, refit to the original's outputs", StringComparison.Ordinal));
        Assert.Equal(plain.Report.Changed.Count, distilled.Report.Changed.Count);
        Assert.True(distilledAccuracy >= original - 0.02, $"distilled accuracy {distilledAccuracy:P1} against {original:P1}");
    }

    private static CompressionOutcome Compress(string path, CompressionSettings settings) =>
        ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, path) { Settings = settings });

    private static double HeldOutAccuracy(string path)
    {
        DigitsTestSet test = DigitsTestSet.Load();
        Assert.True(File.Exists(path), path);
        using var session = new OnnxSession(path, Ort.Options());
        float[] logits = session.Run(["pixels"], [HeldOut(test)], ["logits"])[0].As<float>().Span.ToArray();
        int correct = 0;
        for (int i = 0; i < 180; i++)
        {
            ReadOnlySpan<float> row = logits.AsSpan(i * 10, 10);
            int predicted = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row);
            correct += predicted == test.Labels[180 + i] ? 1 : 0;
        }

        return correct / 180.0;
    }

    private static double HeldOutLogitError(string path)
    {
        DigitsTestSet test = DigitsTestSet.Load();
        using var original = new OnnxSession(RepositoryPaths.DigitsModel, Ort.Options());
        using var compressed = new OnnxSession(path, Ort.Options());
        float[] expected = original.Run(["pixels"], [HeldOut(test)], ["logits"])[0].As<float>().Span.ToArray();
        float[] actual = compressed.Run(["pixels"], [HeldOut(test)], ["logits"])[0].As<float>().Span.ToArray();
        double sum = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            sum += Math.Abs(expected[i] - actual[i]);
        }

        return sum / expected.Length;
    }

    private static OnnxTensor<float> HeldOut(DigitsTestSet test) =>
        new(test.PixelValues.AsSpan(180 * DigitsTestSet.Pixels, 180 * DigitsTestSet.Pixels).ToArray(), [180, DigitsTestSet.Pixels]);

    private string DigitsSamples(string name, int first, int rows)
    {
        DigitsTestSet testSet = DigitsTestSet.Load();
        string data = folder.File(name);
        return testSet.WriteSamples(data, first, rows);
    }
}
