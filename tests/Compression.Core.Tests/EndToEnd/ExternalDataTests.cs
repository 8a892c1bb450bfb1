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

    /// <summary>Writes the digits model with every initializer of 1024 or more elements in <c>digits.weights</c>.</summary>
    private string SaveDigitsWithExternalWeights()
    {
        ModelProto model = OnnxModelFile.Load(RepositoryPaths.DigitsModel);
        using (var data = new FileStream(folder.File("digits.weights"), FileMode.CreateNew))
        {
            foreach (TensorProto tensor in model.Graph.Initializer.Where(t => TensorShape.ElementCount(t.Dims) >= 1024))
            {
                byte[] bytes = tensor.RawData.ToByteArray();
                long offset = data.Position;
                data.Write(bytes);
                new ExternalDataReference("digits.weights", offset, bytes.Length).ApplyTo(tensor);
            }
        }

        string path = folder.File("digits.onnx");
        OnnxModelFile.Save(model, path);
        return path;
    }
}
