using Compression.Core.Evaluation;
using Compression.Core.Settings;
using Compression.Core.Passes.Quantization;
using Compression.Onnx;

namespace Compression.Core.Tests.EndToEnd;

/// <summary>
/// A compression that fails writes nothing: no model, signature, report or temporary file, and files from an earlier
/// run stay as they were (a build must never see a new model beside an old signature).
/// </summary>
public sealed class FailureLeavesNothingTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void A_missing_input_fails_with_OCB0001_and_writes_nothing()
    {
        CompressionException error = CompressExpectingFailure(new CompressionRequest(folder.File("missing.onnx"), folder.File("out", "model.onnx"))
        {
            ReportPath = folder.File("out", "report.json"),
        });

        Assert.Equal(DiagnosticCodes.ModelNotFound, error.Code);
        Assert.Contains(folder.File("missing.onnx"), error.Message, StringComparison.Ordinal);
        Assert.Empty(folder.ListFiles());
    }

    [Theory]
    [InlineData("text")]
    [InlineData("empty")]
    [InlineData("tensor")]
    public void A_file_that_is_not_an_ONNX_model_fails_with_OCB0002_and_writes_nothing(string content)
    {
        string input = folder.File("not-a-model.onnx");
        switch (content)
        {
            case "text":
                File.WriteAllText(input, "this is not protobuf\n");
                break;
            case "empty":
                File.WriteAllBytes(input, []);
                break;
            default:
                OnnxDataFile.Save(TensorValues.Create<float>("t", [2], [1f, 2f]), input);
                break;
        }

        CompressionException error = CompressExpectingFailure(new CompressionRequest(input, folder.File("out", "model.onnx"))
        {
            ReportPath = folder.File("out", "report.json"),
        });

        Assert.Equal(DiagnosticCodes.InvalidModel, error.Code);
        Assert.Equal(input, error.ModelPath);
        Assert.Equal(["not-a-model.onnx"], folder.ListFiles());
    }

    [Theory]
    [InlineData("int3")]
    [InlineData("fp8")]
    public void An_unknown_Quantize_value_fails_with_OCB0003_before_anything_is_written(string value)
    {
        CompressionException error = Assert.Throws<CompressionException>(() =>
        {
            CompressionSettings settings = CompressionSettings.Default.Set(QuantizationSettings.Quantize, value, new SettingOrigin(SettingLevel.Model, "the test"));
            ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("model.onnx")) { Settings = settings });
        });

        Assert.Equal(DiagnosticCodes.InvalidSetting, error.Code);
        Assert.Contains($"'{value}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("(the test)", error.Message, StringComparison.Ordinal);
        Assert.Contains("Valid values: int8, uint8, int4, uint4, fp16, none", error.Message, StringComparison.Ordinal);
        Assert.Empty(folder.ListFiles());
    }

    [Fact]
    public void A_validation_data_folder_without_a_tensor_for_an_input_fails_with_OCB0103_and_writes_nothing()
    {
        string data = folder.File("validation");
        Directory.CreateDirectory(data);
        OnnxDataFile.Save(TensorValues.Create<float>("not_pixels", [1, 64], new float[64]), Path.Combine(data, "not_pixels.pb"));

        CompressionException error = CompressExpectingFailure(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("out", "model.onnx"))
        {
            ReportPath = folder.File("out", "report.json"),
            Settings = CompressionSettings.Default.Set(EvaluationSettings.ValidationData, data),
        });

        Assert.Equal(DiagnosticCodes.InvalidValidationData, error.Code);
        Assert.Contains("'pixels'", error.Message, StringComparison.Ordinal);
        Assert.Equal([Path.Combine("validation", "not_pixels.pb")], folder.ListFiles());
    }

    [Fact]
    public void An_output_folder_that_cannot_be_created_fails_with_OCB0004_and_writes_nothing()
    {
        // A file stands where the output folder should be (the tests may run as root, for whom no folder is read-only).
        File.WriteAllText(folder.File("blocked"), "a file, not a folder");

        CompressionException error = CompressExpectingFailure(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("blocked", "model.onnx"))
        {
            ReportPath = folder.File("report.json"),
        });

        Assert.Equal(DiagnosticCodes.OutputNotWritten, error.Code);
        Assert.Equal(["blocked"], folder.ListFiles());
    }

    [Fact]
    public void An_output_path_that_is_a_folder_fails_with_OCB0004_and_leaves_no_temporary_file()
    {
        Directory.CreateDirectory(folder.File("model.onnx"));

        CompressionException error = CompressExpectingFailure(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("model.onnx"))
        {
            SignaturePath = folder.File("model.signature"),
            ReportPath = folder.File("report.json"),
        });

        Assert.Equal(DiagnosticCodes.OutputNotWritten, error.Code);
        Assert.Empty(folder.ListFiles());
    }

    [Fact]
    public void A_report_that_cannot_be_written_leaves_no_model_and_no_signature()
    {
        File.WriteAllText(folder.File("blocked"), "a file, not a folder");

        CompressionException error = CompressExpectingFailure(new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("out", "model.onnx"))
        {
            ReportPath = folder.File("blocked", "report.json"),
        });

        Assert.Equal(DiagnosticCodes.OutputNotWritten, error.Code);
        Assert.Equal(["blocked"], folder.ListFiles());
    }

    [Fact]
    public void Files_of_an_earlier_run_are_left_untouched_when_validation_data_is_wrong()
    {
        var request = new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("out", "model.onnx")) { ReportPath = folder.File("out", "report.json") };
        IReadOnlyDictionary<string, byte[]> earlier = WriteEarlierRun(request);
        string data = folder.File("validation");
        Directory.CreateDirectory(data);

        CompressionException error = CompressExpectingFailure(request with { Settings = CompressionSettings.Default.Set(EvaluationSettings.ValidationData, data) });

        Assert.Equal(DiagnosticCodes.InvalidValidationData, error.Code);
        AssertUnchanged(earlier);
    }

    [Fact]
    public void Files_of_an_earlier_run_are_left_untouched_when_the_report_cannot_be_written()
    {
        File.WriteAllText(folder.File("blocked"), "a file, not a folder");
        var request = new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("out", "model.onnx")) { ReportPath = folder.File("out", "report.json") };
        IReadOnlyDictionary<string, byte[]> earlier = WriteEarlierRun(request);

        CompressionException error = CompressExpectingFailure(request with { ReportPath = folder.File("blocked", "report.json") });

        Assert.Equal(DiagnosticCodes.OutputNotWritten, error.Code);
        AssertUnchanged(earlier);
    }

    [Fact]
    public void Files_of_an_earlier_run_are_restored_when_the_last_file_cannot_take_its_place()
    {
        // The model and the signature replace their earlier versions before the report's destination, a folder,
        // refuses the report; both must be put back.
        var request = new CompressionRequest(RepositoryPaths.DigitsModel, folder.File("out", "model.onnx")) { ReportPath = folder.File("out", "report.json") };
        IReadOnlyDictionary<string, byte[]> earlier = WriteEarlierRun(request);
        Directory.CreateDirectory(folder.File("out", "report-folder.json"));

        CompressionException error = CompressExpectingFailure(request with { ReportPath = folder.File("out", "report-folder.json") });

        Assert.Equal(DiagnosticCodes.OutputNotWritten, error.Code);
        AssertUnchanged(earlier);
        Assert.Equal(["out/model.onnx", "out/model.onnx.signature", "out/report.json"], folder.ListFiles());
    }

    private static CompressionException CompressExpectingFailure(CompressionRequest request) =>
        Assert.Throws<CompressionException>(() => ModelCompressor.Compress(request));

    /// <summary>Stands in for the files an earlier, successful run left: the model, its signature and its report.</summary>
    private IReadOnlyDictionary<string, byte[]> WriteEarlierRun(CompressionRequest request)
    {
        var files = new Dictionary<string, byte[]>
        {
            [request.OutputPath] = "earlier model"u8.ToArray(),
            [request.OutputPath + ".signature"] = "earlier signature"u8.ToArray(),
            [request.ReportPath!] = "earlier report"u8.ToArray(),
        };
        foreach ((string path, byte[] content) in files)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, content);
        }

        return files;
    }

    private void AssertUnchanged(IReadOnlyDictionary<string, byte[]> earlier)
    {
        foreach ((string path, byte[] content) in earlier)
        {
            Assert.Equal(content, File.ReadAllBytes(path));
        }

        Assert.DoesNotContain(folder.ListFiles(), f => f.EndsWith(".tmp", StringComparison.Ordinal));
    }
}
