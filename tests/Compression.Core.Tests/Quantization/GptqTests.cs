using Compression.Core.Evaluation;
using Compression.Core.Passes;
using Compression.Core.Passes.Quantization;
using Compression.Core.Tests.Support;

namespace Compression.Core.Tests.Quantization;

/// <summary>GPTQ against round-to-nearest: on the layer's own activations, and through the compressor on the digits model.</summary>
public sealed class GptqTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Theory]
    [InlineData(4, 32, true)]
    [InlineData(4, 16, false)]
    [InlineData(8, 64, true)]
    public void GPTQ_moves_a_layers_outputs_less_than_rounding_and_the_error_formula_is_what_the_outputs_show(int bits, int blockSize, bool symmetric)
    {
        // Correlated inputs (as real activations are): x = mix of 8 sources plus noise, 128 features, 512 rows.
        const int n = 48, k = 128, rows = 512;
        var random = new Random(5);
        var mixing = SeededValues.Uniform(6, 8 * k);
        float[] x = SeededValues.CorrelatedRows(random, mixing, 8, rows, k, 0.1f);
        double[] hessian = SeededValues.Gram(x, rows, k);

        float[] weights = SeededValues.Uniform(7, n * k, 0.3f);
        var format = new BlockFormat(bits, blockSize, symmetric);

        BlockQuantizedWeight rounded = BlockQuantization.Quantize(weights, n, k, format);
        BlockQuantizedWeight gptq = Gptq.Quantize(weights, n, k, hessian, format);

        double roundedError = Gptq.RelativeOutputError(weights, rounded, hessian);
        double gptqError = Gptq.RelativeOutputError(weights, gptq, hessian);
        Assert.True(gptqError < roundedError * 0.8, $"GPTQ {gptqError:G4} is not clearly below rounding {roundedError:G4}.");
        Assert.Equal(DirectOutputError(x, rows, weights, gptq), gptqError, 6);

        // Every level is a level of its block's scale and zero point.
        Assert.All(gptq.Levels, level => Assert.InRange(level, 0, format.MaxLevel));
        if (symmetric)
        {
            Assert.All(gptq.ZeroPoints, zero => Assert.Equal(format.Midpoint, zero));
        }
    }

    [Fact]
    public void Through_the_compressor_GPTQ_lowers_every_layers_output_error_and_the_report_gives_both()
    {
        // The test split's 360 images: half to calibrate, the other half to judge.
        string calibration = DigitsSamples("calibration", 0, 180);
        string validation = DigitsSamples("validation", 180, 180);
        CompressionSettings Int4(string algorithm) => CompressionSettings.Default
            .Set(QuantizationSettings.Quantize, QuantizationSettings.Int4)
            .Set(QuantizationSettings.Algorithm, algorithm)
            .Set(EvaluationSettings.CalibrationData, calibration)
            .Set(EvaluationSettings.ValidationData, validation);

        CompressionOutcome rtn = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("rtn", "digits.onnx")) { Settings = Int4("rtn") });
        CompressionOutcome gptq = ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("gptq", "digits.onnx")) { Settings = Int4("gptq") });

        Assert.Equal(3, gptq.Report.Changed.Count);
        Assert.All(gptq.Report.Changed, change =>
        {
            Assert.EndsWith(", GPTQ", change.Technique, StringComparison.Ordinal);
            Assert.True(change.OutputError < change.RoundingOutputError, $"{change.Name}: GPTQ {change.OutputError} against rounding {change.RoundingOutputError}");
        });
        Assert.All(rtn.Report.Changed, change => Assert.Null(change.OutputError));
        Assert.Contains("\"roundingOutputError\"", gptq.Report.ToJson(), StringComparison.Ordinal);

        // On samples GPTQ did not see, the logits move less.
        double Error(CompressionOutcome o) => o.Report.Validation!.Outputs.Single(x => x.Name == "logits").MeanAbsError;
        Assert.True(Error(gptq) < Error(rtn), $"held-out mean logit error: GPTQ {Error(gptq)}, rounding {Error(rtn)}");
    }

    [Fact]
    public void GPTQ_without_calibration_data_is_OCB0003_saying_what_to_give()
    {
        CompressionException error = Assert.Throws<CompressionException>(() => ModelCompressor.Compress(
            new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("digits.onnx"))
            {
                Settings = CompressionSettings.Default.Set(QuantizationSettings.Algorithm, QuantizationSettings.GptqAlgorithm),
            }));

        Assert.Equal(DiagnosticCodes.InvalidSetting, error.Code);
        Assert.Contains("Algorithm=gptq", error.Message, StringComparison.Ordinal);
        Assert.Contains("needs calibration data", error.Message, StringComparison.Ordinal);
        Assert.Contains("Set CalibrationData", error.Message, StringComparison.Ordinal);
        Assert.Empty(folder.ListFiles());
    }

    private static double DirectOutputError(float[] x, int rows, float[] weights, BlockQuantizedWeight quantized)
    {
        int n = quantized.N, k = quantized.K;
        double error = 0, signal = 0;
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < n; o++)
            {
                double exact = 0, approximate = 0;
                for (int c = 0; c < k; c++)
                {
                    exact += (double)x[(r * k) + c] * weights[(o * k) + c];
                    approximate += (double)x[(r * k) + c] * quantized.Dequantize(o, c);
                }

                error += (exact - approximate) * (exact - approximate);
                signal += exact * exact;
            }
        }

        return error / signal;
    }

    private string DigitsSamples(string name, int first, int rows)
    {
        DigitsTestSet testSet = DigitsTestSet.Load();
        string data = folder.File(name);
        return testSet.WriteSamples(data, first, rows);
    }
}
