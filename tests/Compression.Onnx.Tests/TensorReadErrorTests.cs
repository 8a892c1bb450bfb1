using Compression.Onnx.Protos;
using Google.Protobuf;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Onnx.Tests;

/// <summary>Tensors whose data cannot be read as asked give an <see cref="OnnxFormatException"/> that says why.</summary>
public sealed class TensorReadErrorTests
{
    [Fact]
    public void Reading_with_the_wrong_element_type_names_both_types_and_the_right_one()
    {
        var tensor = TensorValues.Create<long>("ids", [2], [1, 2]);

        var error = Assert.Throws<OnnxFormatException>(() => tensor.ToArray<float>());

        Assert.Contains("'ids'", error.Message, StringComparison.Ordinal);
        Assert.Contains("INT64", error.Message, StringComparison.Ordinal);
        Assert.Contains("FLOAT", error.Message, StringComparison.Ordinal);
        Assert.Contains("Read it as Int64", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Half_and_ushort_are_not_interchangeable()
    {
        var tensor = TensorValues.Create<Half>("h", [1], [(Half)1]);

        Assert.Throws<OnnxFormatException>(() => tensor.ToArray<ushort>());
        Assert.Throws<OnnxFormatException>(() => tensor.ToArray<BFloat16>());
    }

    [Fact]
    public void Strings_are_read_only_from_string_tensors()
    {
        var numbers = TensorValues.Create<int>("n", [1], [1]);
        var strings = TensorValues.CreateStrings("s", [1], ["a"]);

        Assert.Throws<OnnxFormatException>(() => numbers.ToStrings());
        var error = Assert.Throws<OnnxFormatException>(() => strings.ToArray<byte>());
        Assert.Contains("ToStrings", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Raw_data_of_the_wrong_length_is_refused()
    {
        var tensor = TensorValues.Create<float>("w", [2, 2], [1f, 2f, 3f, 4f]);
        tensor.Dims[1] = 3;

        var error = Assert.Throws<OnnxFormatException>(() => tensor.View<float>());

        Assert.Contains("6 elements", error.Message, StringComparison.Ordinal);
        Assert.Contains("16 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Typed_data_of_the_wrong_count_is_refused_and_the_wrong_field_is_named()
    {
        var tensor = new TensorProto { Name = "w", DataType = (int)DataType.Float, Dims = { 3 } };
        tensor.Int32Data.Add([1, 2, 3]);

        var error = Assert.Throws<OnnxFormatException>(() => tensor.ToArray<float>());

        Assert.Contains("float_data has 0", error.Message, StringComparison.Ordinal);
        Assert.Contains("int32_data has 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tensor_without_data_is_refused()
    {
        var tensor = new TensorProto { Name = "w", DataType = (int)DataType.Int64, Dims = { 2 } };

        Assert.Throws<OnnxFormatException>(() => tensor.ToArray<long>());
    }

    [Fact]
    public void Data_still_in_an_external_file_is_refused_with_advice()
    {
        var tensor = TestModels.ExternalFloatTensor("w", [2], new ExternalDataReference("weights.bin"));

        var error = Assert.Throws<OnnxFormatException>(() => tensor.ToArray<float>());

        Assert.Contains("weights.bin", error.Message, StringComparison.Ordinal);
        Assert.Contains("loadExternalData", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Negative_dimensions_are_refused()
    {
        var tensor = new TensorProto { Name = "w", DataType = (int)DataType.Float, Dims = { -1 }, RawData = ByteString.Empty };

        var error = Assert.Throws<OnnxFormatException>(() => tensor.ToArray<float>());

        Assert.Contains("-1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Segmented_tensors_are_refused()
    {
        var tensor = TensorValues.Create<float>("w", [1], [1f]);
        tensor.Segment = new TensorProto.Types.Segment { Begin = 0, End = 1 };

        Assert.Throws<OnnxFormatException>(() => tensor.ToArray<float>());
    }

    [Fact]
    public void Invalid_utf8_strings_are_refused()
    {
        var tensor = new TensorProto { Name = "s", DataType = (int)DataType.String, Dims = { 1 } };
        tensor.StringData.Add(ByteString.CopyFrom(0xFF, 0xFE));

        var error = Assert.Throws<OnnxFormatException>(() => tensor.ToStrings());

        Assert.Contains("UTF-8", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Element_types_without_a_dotnet_type_are_not_supported_by_the_untyped_read()
    {
        var tensor = new TensorProto { Name = "c", DataType = (int)DataType.Complex64, Dims = { 1 }, RawData = ByteString.CopyFrom(new byte[8]) };

        Assert.Throws<NotSupportedException>(() => tensor.ToArray());
    }
}
