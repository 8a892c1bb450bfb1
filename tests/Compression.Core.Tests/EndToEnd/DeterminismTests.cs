namespace Compression.Core.Tests.EndToEnd;

/// <summary>The same model and settings give the same files, byte for byte, so that builds are reproducible.</summary>
public sealed class DeterminismTests
{
    [Fact]
    public void Compressing_the_digits_model_twice_gives_identical_model_signature_and_report_but_for_its_times()
    {
        using var folder = new TemporaryFolder();
        string[] runs = ["first", "second"];
        foreach (string run in runs)
        {
            ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File(run, "digits.onnx"))
            {
                ReportPath = folder.File(run, "digits.report.json"),
                SourceName = CompressedDigits.SourceName,
            });
        }

        foreach (string file in new[] { "digits.onnx", "digits.onnx.signature" })
        {
            byte[] first = File.ReadAllBytes(folder.File("first", file));
            byte[] second = File.ReadAllBytes(folder.File("second", file));
            Assert.True(first.AsSpan().SequenceEqual(second), $"{file} differs between two runs.");
        }

        // The report says how long each run took; all else in it is the same.
        Assert.Equal(
            ReportJson.WithoutTiming(File.ReadAllText(folder.File("first", "digits.report.json"))),
            ReportJson.WithoutTiming(File.ReadAllText(folder.File("second", "digits.report.json"))));
    }

    [Fact]
    public void The_int8_digits_model_is_byte_for_byte_what_the_compressor_wrote_when_the_quantized_forms_were_introduced()
    {
        // SHA-256 of the int8 Digits model (dynamic MatMulInteger, the default) as the compressor wrote it when the
        // quantization forms replaced DequantizeLinear as the default: the same settings must give the same bytes on every
        // machine and run. A deliberate change of the output updates this value in the same commit.
        using var folder = new TemporaryFolder();
        ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("digits.onnx"))
        {
            // Every MatMul in the dynamic form, as when the hash was taken (the digits weights are under the dynamic threshold).
            Settings = CompressionSettings.Default.Set(Compression.Core.Evaluation.EvaluationSettings.Validate, false)
                .Set(Compression.Core.Passes.Quantization.QuantizationSettings.DynamicThreshold, 0L),
        });

        byte[] hash = System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(folder.File("digits.onnx")));
        Assert.Equal("22395944b666db54d77cbf22bc4d60dc264dd1971c1949b3084cc6e6af437634", Convert.ToHexStringLower(hash));
    }
}
