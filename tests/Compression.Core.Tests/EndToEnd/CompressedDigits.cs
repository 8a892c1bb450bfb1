namespace Compression.Core.Tests.EndToEnd;

/// <summary>The digits sample compressed once with the default settings, a report and a project-relative source name,
/// as a build would; shared by the tests of a class.</summary>
public sealed class CompressedDigits : IDisposable
{
    public const string SourceName = "samples/Digits/Models/digits.onnx";

    private readonly TemporaryFolder folder = new();

    public CompressedDigits()
    {
        OutputPath = folder.File("obj", "digits.onnx");
        ReportPath = folder.File("obj", "digits.onnx.report.json");
        Request = new CompressionRequest(RepositoryPaths.DigitsModel, OutputPath) { ReportPath = ReportPath, SourceName = SourceName };
        Outcome = ModelCompressor.Compress(Request);
    }

    public CompressionRequest Request { get; }

    public CompressionOutcome Outcome { get; }

    public string OutputPath { get; }

    public string SignaturePath => OutputPath + ".signature";

    public string ReportPath { get; }

    public void Dispose() => folder.Dispose();
}
