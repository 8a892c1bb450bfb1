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
}
