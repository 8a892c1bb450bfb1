namespace Compression.Core.Tests.EndToEnd;

/// <summary>The same model and settings give the same files, byte for byte, so that builds are reproducible.</summary>
public sealed class DeterminismTests
{
    [Fact]
    public void Compressing_the_digits_model_twice_gives_identical_model_signature_and_report()
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

        foreach (string file in new[] { "digits.onnx", "digits.onnx.signature", "digits.report.json" })
        {
            byte[] first = File.ReadAllBytes(folder.File("first", file));
            byte[] second = File.ReadAllBytes(folder.File("second", file));
            Assert.True(first.AsSpan().SequenceEqual(second), $"{file} differs between two runs.");
        }
    }

    [Fact]
    public void The_int8_digits_model_is_byte_for_byte_what_the_compressor_wrote_before_the_engine_was_rebuilt()
    {
        // SHA-256 of the int8 Digits model as the compressor wrote it before the IR, the passes and the declared settings
        // replaced the quantizer's raw-protobuf editing: the same settings must give the same bytes.
        using var folder = new TemporaryFolder();
        ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("digits.onnx"))
        {
            Settings = CompressionSettings.Default.Set(Compression.Core.Evaluation.EvaluationSettings.Validate, false),
        });

        byte[] hash = System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(folder.File("digits.onnx")));
        Assert.Equal("b57416d228a8f456a4430ba9b342484db6f343dc16d3b6875f8ab5c998aa72d0", Convert.ToHexStringLower(hash));
    }
}
