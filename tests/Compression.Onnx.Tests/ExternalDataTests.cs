using System.Runtime.InteropServices;
using Compression.Onnx.Protos;

namespace Compression.Onnx.Tests;

/// <summary>Tensors whose data lives in files beside the model (<c>data_location = EXTERNAL</c>).</summary>
public sealed class ExternalDataTests : IDisposable
{
    private static readonly float[] Weights = [1f, -2f, 3.5f, 4f, 5f, 6.25f];
    private static readonly float[] Bias = [0.5f, -0.5f];
    private static readonly float[] ThenValue = [42f];

    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void External_tensors_anywhere_in_the_model_are_loaded_with_their_offsets_and_lengths()
    {
        string modelPath = WriteModelWithExternalData();

        var model = OnnxModelFile.Load(modelPath);

        var weights = model.Graph.Initializer[0];
        Assert.Equal(Weights, weights.ToArray<float>());
        Assert.Equal([2L, 3], weights.Dims);
        Assert.False(weights.HasDataLocation);
        Assert.Empty(weights.ExternalData);
        var bias = model.Graph.Node[1].Attribute[0].T;
        Assert.Equal(Bias, bias.ToArray<float>());
        var thenBranchConstant = model.Graph.Node[2].Attribute[0].G.Initializer[0];
        Assert.Equal(ThenValue, thenBranchConstant.ToArray<float>());
        Assert.All(ModelTensors.Enumerate(model), tensor => Assert.NotEqual(TensorProto.Types.DataLocation.External, tensor.DataLocation));
    }

    [Fact]
    public void Without_external_data_the_references_stay_and_can_be_loaded_later()
    {
        string modelPath = WriteModelWithExternalData();

        var model = OnnxModelFile.Load(modelPath, loadExternalData: false);

        var weights = model.Graph.Initializer[0];
        Assert.Equal(TensorProto.Types.DataLocation.External, weights.DataLocation);
        var reference = ExternalDataReference.FromTensor(weights);
        Assert.Equal(new ExternalDataReference("weights.bin", 16, 24), reference);
        Assert.Equal(_folder.File("weights.bin"), reference.ResolvePath(_folder.Path));
        Assert.Throws<OnnxFormatException>(() => weights.ToArray<float>());

        OnnxModelFile.LoadExternalData(model, _folder.Path);

        Assert.Equal(Weights, weights.ToArray<float>());
        Assert.Equal(ThenValue, model.Graph.Node[2].Attribute[0].G.Initializer[0].ToArray<float>());
    }

    [Fact]
    public void Parsing_bytes_loads_external_data_only_with_a_folder()
    {
        byte[] bytes = File.ReadAllBytes(WriteModelWithExternalData());

        var withData = OnnxModelFile.Parse(bytes, _folder.Path);
        var withoutData = OnnxModelFile.Parse(bytes);
        using var stream = new MemoryStream(bytes);
        var fromStream = OnnxModelFile.Parse(stream, _folder.Path);

        Assert.Equal(Weights, withData.Graph.Initializer[0].ToArray<float>());
        Assert.Equal(Weights, fromStream.Graph.Initializer[0].ToArray<float>());
        Assert.Equal(TensorProto.Types.DataLocation.External, withoutData.Graph.Initializer[0].DataLocation);
    }

    [Fact]
    public void A_missing_length_reads_to_the_end_of_the_file()
    {
        File.WriteAllBytes(_folder.File("tail.bin"), [.. new byte[8], .. MemoryMarshal.AsBytes(Weights.AsSpan())]);
        string modelPath = SaveModel(TestModels.ExternalFloatTensor("w", [6], new ExternalDataReference("tail.bin", offset: 8)));

        Assert.Equal(Weights, OnnxModelFile.Load(modelPath).Graph.Initializer[0].ToArray<float>());
    }

    [Fact]
    public void A_missing_file_is_reported_with_its_path_and_the_models()
    {
        string modelPath = SaveModel(TestModels.ExternalFloatTensor("w", [6], new ExternalDataReference("absent.bin")));

        var error = Assert.Throws<OnnxFormatException>(() => OnnxModelFile.Load(modelPath));

        Assert.Equal(_folder.File("absent.bin"), error.FilePath);
        Assert.Contains(_folder.File("absent.bin"), error.Message, StringComparison.Ordinal);
        Assert.Contains(modelPath, error.Message, StringComparison.Ordinal);
        Assert.Contains("'w'", error.Message, StringComparison.Ordinal);
        Assert.IsType<FileNotFoundException>(error.InnerException);
    }

    [Theory]
    [InlineData("../outside.bin")]
    [InlineData("sub/../../outside.bin")]
    [InlineData("..\\outside.bin")]
    [InlineData(".")]
    public void A_location_that_leaves_the_models_folder_is_refused(string location)
    {
        // The model sits in a subfolder; the file it reaches for exists one level up.
        File.WriteAllBytes(_folder.File("outside.bin"), new byte[24]);
        Directory.CreateDirectory(_folder.File("model"));
        string modelPath = _folder.File("model/model.onnx");
        OnnxModelFile.Save(TestModels.WithInitializers(TestModels.ExternalFloatTensor("w", [6], new ExternalDataReference(location))), modelPath);

        var error = Assert.Throws<OnnxFormatException>(() => OnnxModelFile.Load(modelPath));

        Assert.Equal(modelPath, error.FilePath);
        Assert.Contains(modelPath, error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{location}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("model's folder", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("file")]
    [InlineData("folder")]
    [InlineData("chain")]
    public void A_link_that_leads_out_of_the_models_folder_is_refused(string kind)
    {
        File.WriteAllBytes(_folder.File("outside.bin"), MemoryMarshal.AsBytes(Weights.AsSpan()).ToArray());
        Directory.CreateDirectory(_folder.File("model"));
        string location = "w.bin";
        switch (kind)
        {
            case "file":
                File.CreateSymbolicLink(_folder.File("model", "w.bin"), _folder.File("outside.bin"));
                break;
            case "folder":
                Directory.CreateSymbolicLink(_folder.File("model", "data"), _folder.Path);
                location = "data/outside.bin";
                break;
            default:
                // A link to a link inside the folder, whose target is outside.
                File.CreateSymbolicLink(_folder.File("model", "hop.bin"), "../outside.bin");
                File.CreateSymbolicLink(_folder.File("model", "w.bin"), "hop.bin");
                break;
        }

        string modelPath = _folder.File("model", "model.onnx");
        OnnxModelFile.Save(TestModels.WithInitializers(TestModels.ExternalFloatTensor("w", [6], new ExternalDataReference(location))), modelPath);

        var error = Assert.Throws<OnnxFormatException>(() => OnnxModelFile.Load(modelPath));

        Assert.Equal(modelPath, error.FilePath);
        Assert.Contains("'w'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{location}'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{_folder.File("outside.bin")}', outside the model's folder", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_link_to_a_file_inside_the_models_folder_is_followed()
    {
        Directory.CreateDirectory(_folder.File("data"));
        File.WriteAllBytes(_folder.File("data", "real.bin"), MemoryMarshal.AsBytes(Weights.AsSpan()).ToArray());
        File.CreateSymbolicLink(_folder.File("w.bin"), "data/real.bin");
        string modelPath = SaveModel(TestModels.ExternalFloatTensor("w", [6], new ExternalDataReference("w.bin")));

        Assert.Equal(Weights, OnnxModelFile.Load(modelPath).Graph.Initializer[0].ToArray<float>());
    }

    [Fact]
    public async Task A_named_pipe_is_refused_without_being_opened()
    {
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [_folder.File("w.bin")]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        string modelPath = SaveModel(TestModels.ExternalFloatTensor("w", [6], new ExternalDataReference("w.bin")));

        // Opening a named pipe for reading blocks until a writer comes: the load must refuse it instead.
        var load = Task.Run(() => OnnxModelFile.Load(modelPath));
        Assert.Same(load, await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(30))));
        var error = await Assert.ThrowsAsync<OnnxFormatException>(() => load);
        Assert.Contains("'w.bin'", error.Message, StringComparison.Ordinal);
        Assert.Contains("not a regular file", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/etc/hostname")]
    [InlineData("\\\\server\\share\\weights.bin")]
    [InlineData("C:\\weights.bin")]
    public void An_absolute_location_is_refused(string location)
    {
        string modelPath = SaveModel(TestModels.ExternalFloatTensor("w", [6], new ExternalDataReference(location)));

        var error = Assert.Throws<OnnxFormatException>(() => OnnxModelFile.Load(modelPath));

        Assert.Contains(modelPath, error.Message, StringComparison.Ordinal);
        Assert.Contains("absolute path", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(100, null)]
    [InlineData(0, 25L)]
    [InlineData(16, 9L)]
    public void Data_past_the_end_of_the_file_is_refused(long offset, long? length)
    {
        File.WriteAllBytes(_folder.File("short.bin"), new byte[24]);
        string modelPath = SaveModel(TestModels.ExternalFloatTensor("w", [6], new ExternalDataReference("short.bin", offset, length)));

        var error = Assert.Throws<OnnxFormatException>(() => OnnxModelFile.Load(modelPath));

        Assert.Equal(_folder.File("short.bin"), error.FilePath);
        Assert.Contains(_folder.File("short.bin"), error.Message, StringComparison.Ordinal);
        Assert.Contains(modelPath, error.Message, StringComparison.Ordinal);
        Assert.Contains("24", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("offset", "-1")]
    [InlineData("offset", "ten")]
    [InlineData("length", "1e3")]
    public void Malformed_offsets_and_lengths_are_refused(string key, string value)
    {
        var tensor = TestModels.ExternalFloatTensor("w", [6], new ExternalDataReference("weights.bin"));
        tensor.ExternalData.Add(new StringStringEntryProto { Key = key, Value = value });
        string modelPath = SaveModel(tensor);

        var error = Assert.Throws<OnnxFormatException>(() => OnnxModelFile.Load(modelPath));

        Assert.Contains($"'{value}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(modelPath, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_external_tensor_without_a_location_is_refused()
    {
        var tensor = new TensorProto { Name = "w", DataType = 1, Dims = { 6 }, DataLocation = TensorProto.Types.DataLocation.External };
        string modelPath = SaveModel(tensor);

        var error = Assert.Throws<OnnxFormatException>(() => OnnxModelFile.Load(modelPath));

        Assert.Contains("'location'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_reference_written_to_a_tensor_reads_back_the_same()
    {
        var reference = new ExternalDataReference("data/w.bin", 4096, 24, "abc123");
        var tensor = TensorValues.Create<float>("w", [6], Weights);

        reference.ApplyTo(tensor);

        Assert.False(tensor.HasRawData);
        Assert.Equal(TensorProto.Types.DataLocation.External, tensor.DataLocation);
        Assert.Equal(reference, ExternalDataReference.FromTensor(tensor));
    }

    /// <summary>
    /// A model with external data in two files: an initializer at offset 16 of weights.bin (with bytes before and after),
    /// a Constant node's tensor and the initializer of an If node's then-branch in sub/more.bin.
    /// </summary>
    private string WriteModelWithExternalData()
    {
        var weightBytes = MemoryMarshal.AsBytes(Weights.AsSpan()).ToArray();
        File.WriteAllBytes(_folder.File("weights.bin"), [.. Enumerable.Repeat((byte)0xEE, 16), .. weightBytes, 0xEE, 0xEE]);
        Directory.CreateDirectory(_folder.File("sub"));
        File.WriteAllBytes(
            _folder.File("sub/more.bin"),
            [.. MemoryMarshal.AsBytes(Bias.AsSpan()), .. MemoryMarshal.AsBytes(ThenValue.AsSpan())]);

        var thenBranch = new GraphProto { Name = "then" };
        thenBranch.Initializer.Add(TestModels.ExternalFloatTensor("then_value", [1], new ExternalDataReference("sub/more.bin", 8, 4)));
        thenBranch.Output.Add(TestModels.FloatOutput("then_value"));
        var elseBranch = new GraphProto { Name = "else" };
        elseBranch.Output.Add(TestModels.FloatOutput("bias"));

        var graph = new GraphProto { Name = "external" };
        graph.Initializer.Add(TestModels.ExternalFloatTensor("weights", [2, 3], new ExternalDataReference("weights.bin", 16, 24)));
        graph.Node.Add(new NodeProto { OpType = "Identity", Input = { "weights" }, Output = { "weights_out" } });
        graph.Node.Add(new NodeProto
        {
            OpType = "Constant",
            Output = { "bias" },
            Attribute =
            {
                new AttributeProto
                {
                    Name = "value",
                    Type = AttributeProto.Types.AttributeType.Tensor,
                    T = TestModels.ExternalFloatTensor("bias", [2], new ExternalDataReference("sub/more.bin", 0, 8)),
                },
            },
        });
        graph.Node.Add(new NodeProto
        {
            OpType = "If",
            Input = { "condition" },
            Output = { "chosen" },
            Attribute =
            {
                new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = thenBranch },
                new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = elseBranch },
            },
        });
        graph.Output.Add(TestModels.FloatOutput("weights_out"));
        graph.Output.Add(TestModels.FloatOutput("chosen"));

        string modelPath = _folder.File("model.onnx");
        OnnxModelFile.Save(TestModels.Model(graph), modelPath);
        return modelPath;
    }

    private string SaveModel(TensorProto initializer)
    {
        string modelPath = _folder.File("model.onnx");
        OnnxModelFile.Save(TestModels.WithInitializers(initializer), modelPath);
        return modelPath;
    }
}
