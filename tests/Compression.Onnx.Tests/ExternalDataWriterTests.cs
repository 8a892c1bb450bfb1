using Compression.Onnx.Protos;

namespace Compression.Onnx.Tests;

/// <summary>Writing tensors to one external data file: appended one at a time, read back, and the rest copied at the end.</summary>
public sealed class ExternalDataWriterTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Tensors_go_to_aligned_offsets_and_read_back_and_the_rest_is_copied_from_the_original_file()
    {
        float[] original = [.. Enumerable.Range(0, 300).Select(i => i * 0.5f)];
        using (var source = new FileStream(_folder.File("source.bin"), FileMode.CreateNew))
        {
            source.Write(new byte[7]);
            source.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(original.AsSpan()));
        }

        TensorProto copied = TestModels.ExternalFloatTensor("copied", [300], new ExternalDataReference("source.bin", 7, 1200));
        TensorProto appended = TensorValues.Create<float>("appended", [3], [1f, 2f, 3f]);
        TensorProto large = TensorValues.Create<float>("large", [1000], Enumerable.Range(0, 1000).Select(i => (float)i).ToArray());
        TensorProto small = TensorValues.Create<float>("small", [2], [4f, 5f]);
        ModelProto model = TestModels.WithInitializers(copied, appended, large, small);

        string dataPath = _folder.File("out", "model.onnx.data");
        Directory.CreateDirectory(_folder.File("out"));
        long length;
        using (var data = new FileStream(dataPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read))
        {
            var writer = new ExternalDataWriter(data, "model.onnx.data");
            writer.Append(appended);
            Assert.True(writer.Holds(appended));
            Assert.Empty(appended.RawData);

            writer.ReadBack(appended);
            Assert.False(writer.Holds(appended));
            Assert.Equal([1f, 2f, 3f], appended.ToArray<float>());

            writer.Append(appended);
            length = writer.AppendRest(model, threshold: 1024, _folder.Path, _folder.File("model.onnx"));
        }

        Assert.Equal(new FileInfo(dataPath).Length, length);
        Assert.Equal(TensorProto.Types.DataLocation.Default, small.DataLocation);
        ExternalDataReference[] references = [.. new[] { appended, copied, large }.Select(ExternalDataReference.FromTensor)];
        Assert.All(references, r => Assert.Equal("model.onnx.data", r.Location));
        // appended twice (its first copy is dead data), then the rest in model order, each on a 4096-byte boundary.
        Assert.Equal([4096L, 8192, 12288], references.Select(r => r.Offset));
        Assert.Equal([12L, 1200, 4000], references.Select(r => r.Length!.Value));

        OnnxModelFile.LoadExternalData(model, _folder.File("out"));
        Assert.Equal(original, copied.ToArray<float>());
        Assert.Equal([1f, 2f, 3f], appended.ToArray<float>());
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => (float)i), large.ToArray<float>());
    }

    [Fact]
    public void An_original_data_file_shorter_than_the_model_says_is_refused()
    {
        File.WriteAllBytes(_folder.File("source.bin"), new byte[100]);
        ModelProto model = TestModels.WithInitializers(TestModels.ExternalFloatTensor("w", [300], new ExternalDataReference("source.bin", 0, 1200)));
        using var data = new FileStream(_folder.File("model.onnx.data"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);

        var error = Assert.Throws<OnnxFormatException>(() =>
            new ExternalDataWriter(data, "model.onnx.data").AppendRest(model, 1024, _folder.Path, _folder.File("model.onnx")));

        Assert.Contains("source.bin", error.Message, StringComparison.Ordinal);
        Assert.Contains("1200", error.Message, StringComparison.Ordinal);
    }
}
