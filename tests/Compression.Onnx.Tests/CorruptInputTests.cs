using Compression.Onnx.Protos;

namespace Compression.Onnx.Tests;

/// <summary>Files that are not ONNX, or not whole, give an <see cref="OnnxFormatException"/> naming the file.</summary>
public sealed class CorruptInputTests : IDisposable
{
    private static readonly string SampleModel = Path.Combine(OnnxTestData.Root, "pytorch-converted", "test_Conv3d_groups", "model.onnx");

    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData(1, 64)]
    [InlineData(2, 1000)]
    [InlineData(3, 100_000)]
    [InlineData(4, 7)]
    public void Random_bytes_are_not_a_model(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        string path = _folder.File("random.onnx");
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<OnnxFormatException>(() => OnnxModelFile.Load(path));

        Assert.Equal(path, error.FilePath);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("not an ONNX model", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    [InlineData(500)]
    public void A_truncated_model_is_reported_as_truncated_or_corrupt(int bytesCut)
    {
        byte[] whole = File.ReadAllBytes(SampleModel);
        Assert.True(whole.Length > bytesCut * 2, "the sample model is large enough to cut");
        string path = _folder.File("truncated.onnx");
        File.WriteAllBytes(path, whole[..^bytesCut]);

        var error = Assert.Throws<OnnxFormatException>(() => OnnxModelFile.Load(path));

        Assert.Equal(path, error.FilePath);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("truncated or corrupt", error.Message, StringComparison.Ordinal);
        Assert.IsType<Google.Protobuf.InvalidProtocolBufferException>(error.InnerException);
    }

    [Fact]
    public void A_tensor_file_is_not_a_model()
    {
        // A tensor's fields collide with the model's: its dims land in ir_version, its name in opset_import (where it fails
        // to parse as a message). A tensor with only dims and raw data parses, as a model without a graph.
        string path = Path.Combine(OnnxTestData.Root, "node", "test_abs", "test_data_set_0", "input_0.pb");
        var unnamed = OnnxDataFile.LoadTensor(path);
        unnamed.ClearName();

        var error = Assert.Throws<OnnxFormatException>(() => OnnxModelFile.Load(path));
        var unnamedError = Assert.Throws<OnnxFormatException>(() => OnnxModelFile.Parse(OnnxDataFile.ToBytes(unnamed)));

        Assert.Contains("not an ONNX model", error.Message, StringComparison.Ordinal);
        Assert.Contains("no graph", unnamedError.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Damaged_models_either_load_or_fail_with_the_format_exception()
    {
        // Flipped bytes may still parse (a changed float is still a float); anything else must be an OnnxFormatException.
        var random = new Random(20240601);
        var models = OnnxTestData.ModelFiles("pytorch-converted");
        int refused = 0;
        for (int attempt = 0; attempt < 2000; attempt++)
        {
            byte[] bytes = File.ReadAllBytes(models[random.Next(models.Length)]);
            for (int flips = random.Next(1, 4); flips > 0; flips--)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            try
            {
                OnnxModelFile.Parse(bytes);
            }
            catch (OnnxFormatException)
            {
                refused++;
            }
        }

        Assert.InRange(refused, 1, 1999);
    }

    [Fact]
    public void An_empty_file_is_not_a_model()
    {
        string path = _folder.File("empty.onnx");
        File.WriteAllBytes(path, []);

        var error = Assert.Throws<OnnxFormatException>(() => OnnxModelFile.Load(path));

        Assert.Contains("empty", error.Message, StringComparison.Ordinal);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Corrupt_bytes_in_memory_are_reported_without_a_path()
    {
        byte[] whole = File.ReadAllBytes(SampleModel);

        var error = Assert.Throws<OnnxFormatException>(() => OnnxModelFile.Parse(whole[..^3]));

        Assert.Null(error.FilePath);
        Assert.StartsWith("The data is not an ONNX model", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_tensor_file_is_reported_with_its_path()
    {
        string source = Path.Combine(OnnxTestData.Root, "node", "test_abs", "test_data_set_0", "input_0.pb");
        string path = _folder.File("input_0.pb");
        File.WriteAllBytes(path, File.ReadAllBytes(source)[..^5]);

        var error = Assert.Throws<OnnxFormatException>(() => OnnxDataFile.LoadTensor(path));

        Assert.Equal(path, error.FilePath);
        Assert.Contains("TensorProto", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_model_file_is_reported_as_missing()
    {
        string path = _folder.File("absent.onnx");

        var error = Assert.Throws<FileNotFoundException>(() => OnnxModelFile.Load(path));

        Assert.Equal(path, error.FileName);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Subgraphs_nested_far_deeper_than_protobufs_default_limit_load()
    {
        // Each level is graph -> node -> attribute -> graph: 200 levels are 600 messages deep, past protobuf's default of 100.
        const int depth = 200;
        var innermost = new GraphProto { Name = "level0" };
        innermost.Initializer.Add(TensorValues.Create<int>("deepest", [1], [depth]));
        var graph = innermost;
        for (int level = 1; level <= depth; level++)
        {
            var outer = new GraphProto { Name = $"level{level}" };
            outer.Node.Add(new NodeProto
            {
                OpType = "If",
                Attribute = { new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = graph } },
            });
            graph = outer;
        }

        byte[] bytes = OnnxModelFile.ToBytes(TestModels.Model(graph));

        var model = OnnxModelFile.Parse(bytes);

        var tensors = ModelTensors.Enumerate(model);
        Assert.Equal("deepest", Assert.Single(tensors).Name);
        Assert.Equal([depth], tensors[0].ToArray<int>());
    }
}
