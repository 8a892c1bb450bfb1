using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Core.Tests.EndToEnd;

/// <summary>Models that keep their weights in a data file beside the .onnx file, as large exports do.</summary>
public sealed class ExternalDataTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void A_model_with_external_weights_is_compressed_into_one_file_and_its_size_counts_the_data_file()
    {
        string model = SaveDigitsWithExternalWeights();
        long originalBytes = new FileInfo(model).Length + new FileInfo(folder.File("digits.weights")).Length;

        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(model, folder.File("out", "digits.onnx")));

        Assert.Equal(originalBytes, outcome.Report.Size.Original);
        Assert.Equal(3, outcome.Report.Changed.Count);
        ModelProto compressed = OnnxModelFile.Load(folder.File("out", "digits.onnx"), loadExternalData: false);
        Assert.DoesNotContain(ModelTensors.Enumerate(compressed), t => t.DataLocation == TensorProto.Types.DataLocation.External);
        Assert.Equal(["digits.onnx", "digits.onnx.signature"], Directory.GetFiles(folder.File("out")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.All(outcome.Report.Validation!.Outputs, o => Assert.True(o.CosineSimilarity > 0.999, $"{o.Name}: cosine {o.CosineSimilarity}"));
        Assert.True(outcome.Report.Size.Compressed <= 0.3 * originalBytes);
    }

    [Fact]
    public void A_model_whose_data_file_is_missing_fails_with_OCB0002_and_writes_nothing()
    {
        string model = SaveDigitsWithExternalWeights();
        File.Delete(folder.File("digits.weights"));

        CompressionException error = Assert.Throws<CompressionException>(() =>
            ModelCompressor.Compress(new CompressionRequest(model, folder.File("out", "digits.onnx"))));

        Assert.Equal(DiagnosticCodes.InvalidModel, error.Code);
        Assert.Contains("digits.weights", error.Message, StringComparison.Ordinal);
        Assert.Equal(["digits.onnx"], folder.ListFiles());
    }

    [Fact]
    public void A_data_file_linked_from_inside_the_models_folder_is_read()
    {
        string model = SaveDigitsWithExternalWeights(location: "alias.weights", dataFile: folder.File("digits.weights"));
        File.CreateSymbolicLink(folder.File("alias.weights"), "digits.weights");

        CompressionOutcome outcome = ModelCompressor.Compress(new CompressionRequest(model, folder.File("out", "digits.onnx")));

        Assert.Equal(3, outcome.Report.Changed.Count);
        Assert.All(outcome.Report.Validation!.Outputs, o => Assert.True(o.CosineSimilarity > 0.999, $"{o.Name}: cosine {o.CosineSimilarity}"));
    }

    [Theory]
    [InlineData("linked file")]
    [InlineData("linked folder")]
    [InlineData("named pipe")]
    [InlineData("folder")]
    [InlineData("offset past the end")]
    public async Task External_data_outside_the_models_folder_or_not_a_regular_file_fails_with_OCB0002_and_writes_nothing(string kind)
    {
        // The model sits in model/; the real weights lie in outside/, beside it.
        Directory.CreateDirectory(folder.File("model"));
        Directory.CreateDirectory(folder.File("outside"));
        string outsideData = folder.File("outside", "digits.weights");
        (string location, string? dataFile) = kind switch
        {
            "linked folder" => ("data/digits.weights", outsideData),
            "linked file" or "named pipe" or "folder" => ("digits.weights", outsideData),
            _ => ("digits.weights", folder.File("model", "digits.weights")),
        };
        string model = SaveDigitsWithExternalWeights(location, dataFile, folder.File("model", "digits.onnx"));
        switch (kind)
        {
            case "linked file":
                File.CreateSymbolicLink(folder.File("model", "digits.weights"), "../outside/digits.weights");
                break;
            case "linked folder":
                Directory.CreateSymbolicLink(folder.File("model", "data"), folder.File("outside"));
                break;
            case "named pipe":
                MakeNamedPipe(folder.File("model", "digits.weights"));
                break;
            case "folder":
                Directory.CreateDirectory(folder.File("model", "digits.weights"));
                break;
            default:
                // The data file lost its second half.
                byte[] bytes = File.ReadAllBytes(dataFile!);
                File.WriteAllBytes(dataFile!, bytes[..(bytes.Length / 2)]);
                break;
        }

        string[] before = folder.Contents();
        var compression = Task.Run(() => ModelCompressor.Compress(new CompressionRequest(model, folder.File("out", "digits.onnx"))));

        // A named pipe must be refused, not opened: opening one blocks until a writer comes.
        Assert.Same(compression, await Task.WhenAny(compression, Task.Delay(TimeSpan.FromSeconds(60))));
        CompressionException error = await Assert.ThrowsAsync<CompressionException>(() => compression);
        Assert.Equal(DiagnosticCodes.InvalidModel, error.Code);
        Assert.Equal(model, error.ModelPath);
        Assert.Contains("'digits.weights'", error.Message.Replace("'data/digits.weights'", "'digits.weights'", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("Tensor '", error.Message, StringComparison.Ordinal);
        string expected = kind switch
        {
            "linked file" or "linked folder" => "outside the model's folder",
            "named pipe" => "not a regular file",
            "folder" => "is a folder",
            _ => "ends past the end",
        };
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal(before, folder.Contents());
    }

    private static void MakeNamedPipe(string path)
    {
        using var mkfifo = System.Diagnostics.Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    /// <summary>
    /// Writes the digits model with every initializer of 1024 or more elements in an external file, which the model
    /// names by <paramref name="location"/> and which is written at <paramref name="dataFile"/>.
    /// </summary>
    private string SaveDigitsWithExternalWeights(string location = "digits.weights", string? dataFile = null, string? modelPath = null)
    {
        ModelProto model = OnnxModelFile.Load(RepositoryPaths.DigitsModel);
        using (var data = new FileStream(dataFile ?? folder.File("digits.weights"), FileMode.CreateNew))
        {
            foreach (TensorProto tensor in model.Graph.Initializer.Where(t => TensorShape.ElementCount(t.Dims) >= 1024))
            {
                byte[] bytes = tensor.RawData.ToByteArray();
                long offset = data.Position;
                data.Write(bytes);
                new ExternalDataReference(location, offset, bytes.Length).ApplyTo(tensor);
            }
        }

        string path = modelPath ?? folder.File("digits.onnx");
        OnnxModelFile.Save(model, path);
        return path;
    }
}
