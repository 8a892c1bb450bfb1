using Compression.Onnx.Protos;
using Google.Protobuf;

namespace Compression.Onnx.Tests;

/// <summary>Saving writes the whole model or nothing, and never leaves a temporary file behind.</summary>
public sealed class SaveTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_saved_model_loads_back_equal_and_holds_exactly_its_bytes()
    {
        var model = TestModels.WithInitializers(TensorValues.Create<float>("w", [2], [1f, 2f]));
        string path = _folder.File("model.onnx");

        OnnxModelFile.Save(model, path);

        Assert.Equal(OnnxModelFile.ToBytes(model), File.ReadAllBytes(path));
        Assert.Equal(model, OnnxModelFile.Load(path));
        Assert.Equal(["model.onnx"], _folder.Contents());
    }

    [Fact]
    public void Saving_over_an_existing_file_replaces_it()
    {
        string path = _folder.File("model.onnx");
        File.WriteAllBytes(path, new byte[100_000]);
        var model = TestModels.WithInitializers(TensorValues.Create<int>("w", [1], [7]));

        OnnxModelFile.Save(model, path);

        Assert.Equal(OnnxModelFile.ToBytes(model), File.ReadAllBytes(path));
        Assert.Equal(["model.onnx"], _folder.Contents());
    }

    [Fact]
    public void Saving_into_a_missing_folder_fails_and_writes_nothing()
    {
        string path = _folder.File("missing/model.onnx");

        var error = Assert.Throws<DirectoryNotFoundException>(() => OnnxModelFile.Save(TestModels.WithInitializers(), path));

        Assert.Contains(_folder.File("missing"), error.Message, StringComparison.Ordinal);
        Assert.Empty(_folder.Contents());
    }

    [Fact]
    public void A_failed_replace_removes_the_temporary_file_and_keeps_the_destination()
    {
        // A folder where the model should go: the temporary file is written, but cannot replace a folder.
        string path = _folder.File("model.onnx");
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "keep.txt"), "kept");

        var error = Assert.ThrowsAny<IOException>(() => OnnxModelFile.Save(TestModels.WithInitializers(), path));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);

        Assert.Equal(["model.onnx", Path.Combine("model.onnx", "keep.txt")], _folder.Contents());
    }

    [Fact]
    public void Saving_into_an_unwritable_folder_fails_naming_the_destination()
    {
        // /sys is read-only even for root, who can write into any folder whose mode forbids it; other systems have no
        // such folder, and this case is Linux-only.
        if (!OperatingSystem.IsLinux() || !Directory.Exists("/sys"))
        {
            return;
        }

        string path = "/sys/compression-onnx-test.onnx";

        var error = Assert.Throws<UnauthorizedAccessException>(() => OnnxModelFile.Save(TestModels.WithInitializers(), path));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
        Assert.DoesNotContain(Directory.GetFiles("/sys"), file => file.Contains("compression-onnx-test", StringComparison.Ordinal));
    }

    [Fact]
    public void A_model_over_two_gibibytes_is_refused_before_anything_is_written()
    {
        // 40 initializers share one 64 MiB buffer: 2.5 GiB serialized, 64 MiB in memory.
        var shared = UnsafeByteOperations.UnsafeWrap(new byte[64 << 20]);
        var initializers = new TensorProto[40];
        for (int i = 0; i < initializers.Length; i++)
        {
            initializers[i] = new TensorProto { Name = $"w{i}", DataType = (int)TensorProto.Types.DataType.Uint8, Dims = { shared.Length }, RawData = shared };
        }

        var model = TestModels.WithInitializers(initializers);
        string path = _folder.File("huge.onnx");

        var saveError = Assert.Throws<OnnxFormatException>(() => OnnxModelFile.Save(model, path));
        var bytesError = Assert.Throws<OnnxFormatException>(() => OnnxModelFile.ToBytes(model));

        Assert.Contains("2 GiB", saveError.Message, StringComparison.Ordinal);
        Assert.Contains(path, saveError.Message, StringComparison.Ordinal);
        Assert.Equal(path, saveError.FilePath);
        Assert.Contains("external data", bytesError.Message, StringComparison.Ordinal);
        Assert.Empty(_folder.Contents());
    }

    [Fact]
    public void A_tensor_saves_and_loads_as_a_data_file()
    {
        var tensor = TensorValues.Create<double>("t", [3], [1, 2, 3]);
        string path = _folder.File("t.pb");

        OnnxDataFile.Save(tensor, path);

        Assert.Equal(tensor.ToByteArray(), File.ReadAllBytes(path));
        Assert.Equal(tensor, OnnxDataFile.LoadTensor(path));
        Assert.Equal(["t.pb"], _folder.Contents());
    }
}
