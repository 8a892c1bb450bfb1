using Compression.Onnx.Protos;
using Google.Protobuf;

namespace Compression.Onnx.Tests;

/// <summary>
/// <see cref="OnnxModelFile.LoadInterface"/>: the interface of every model of the ONNX backend test suite reads the same as
/// from the whole model, without its nodes or weights.
/// </summary>
public sealed class InterfaceTests
{
    public static TheoryData<string> Suites => new(OnnxTestData.Suites);

    [Theory]
    [MemberData(nameof(Suites))]
    public void The_interface_of_every_model_is_that_of_the_whole_model_without_nodes_or_weights(string suite)
    {
        string[] models = OnnxTestData.ModelFiles(suite);
        Assert.True(models.Length >= 20, $"{suite} has only {models.Length} models; is libonnx-testdata installed completely?");
        foreach (string path in models)
        {
            ModelProto whole = OnnxModelFile.Load(path, loadExternalData: false);
            ModelProto view = OnnxModelFile.LoadInterface(path);

            Assert.Equal(whole.IrVersion, view.IrVersion);
            Assert.Equal(whole.OpsetImport, view.OpsetImport);
            Assert.Equal(whole.DocString, view.DocString);
            Assert.Equal(whole.Graph.Input, view.Graph.Input);
            Assert.Equal(whole.Graph.Output, view.Graph.Output);
            Assert.Equal(whole.Graph.Initializer.Select(t => t.Name), view.Graph.Initializer.Select(t => t.Name));
            Assert.Empty(view.Graph.Node);
            Assert.All(view.Graph.Initializer, t => Assert.True(t.RawData.IsEmpty && t.FloatData.Count == 0 && t.Dims.Count == 0, $"{path}: {t.Name} kept more than its name"));
        }
    }

    [Fact]
    public void A_file_without_a_graph_is_not_a_model()
    {
        string path = Path.Combine(Path.GetTempPath(), $"interface-{Guid.NewGuid():N}.onnx");
        try
        {
            File.WriteAllBytes(path, new TensorProto { Name = "t", DataType = 1 }.ToByteArray());

            var error = Assert.Throws<OnnxFormatException>(() => OnnxModelFile.LoadInterface(path));
            Assert.Contains("is not an ONNX model", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
