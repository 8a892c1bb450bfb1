using Compression.Onnx.Protos;
using Google.Protobuf;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Onnx.Tests;

/// <summary>
/// <see cref="TensorStorage"/> accepts every tensor of the backend suite's models and refuses, naming the tensor, each
/// way a tensor's element type, dims and data can disagree.
/// </summary>
public sealed class TensorStorageTests
{
    [Fact]
    public void Every_tensor_of_the_backend_suites_models_passes()
    {
        int tensors = 0;
        foreach (string model in Directory.GetFiles(OnnxTestData.Root, "model.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            ModelProto proto = OnnxModelFile.Load(model);
            foreach (TensorProto tensor in ModelTensors.Enumerate(proto))
            {
                TensorStorage.Check(tensor);
                tensors++;
            }
        }

        Assert.True(tensors > 300, $"{tensors} tensors");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(100)]
    public void An_unknown_element_type_is_refused(int dataType)
    {
        var tensor = TensorValues.Create<float>("w", [2], [1f, 2f]);
        tensor.DataType = dataType;

        var error = Assert.Throws<OnnxFormatException>(() => TensorStorage.Check(tensor));

        Assert.Contains($"Tensor 'w' (", error.Message, StringComparison.Ordinal);
        Assert.Contains($"has element type {dataType}, which is no ONNX element type", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(DataType.Float, 7, "2 elements of 32 bits (8 bytes) in raw_data, but raw_data has 7 bytes")]
    [InlineData(DataType.Int4, 2, "3 elements of 4 bits (2 bytes)")]
    [InlineData(DataType.Int4, 1, "3 elements of 4 bits (2 bytes) in raw_data, but raw_data has 1 bytes")]
    public void Raw_data_must_hold_exactly_the_bytes_the_dims_call_for(DataType dataType, int rawBytes, string expected)
    {
        var tensor = new TensorProto { Name = "w", DataType = (int)dataType, RawData = ByteString.CopyFrom(new byte[rawBytes]) };
        tensor.Dims.Add(dataType == DataType.Int4 ? 3 : 2);

        if (rawBytes == 2)
        {
            TensorStorage.Check(tensor);
            return;
        }

        var error = Assert.Throws<OnnxFormatException>(() => TensorStorage.Check(tensor));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_typed_field_of_the_wrong_count_or_with_values_out_of_range_is_refused()
    {
        var floats = new TensorProto { Name = "f", DataType = (int)DataType.Float, Dims = { 3 }, FloatData = { 1f, 2f } };
        var bytes = new TensorProto { Name = "b", DataType = (int)DataType.Uint8, Dims = { 2 }, Int32Data = { 1, 300 } };

        var count = Assert.Throws<OnnxFormatException>(() => TensorStorage.Check(floats));
        var range = Assert.Throws<OnnxFormatException>(() => TensorStorage.Check(bytes));

        Assert.Contains("Tensor 'f' (FLOAT, shape [3]) should hold 3 elements in float_data (it has no raw_data), but float_data has 2", count.Message, StringComparison.Ordinal);
        Assert.Contains("Tensor 'b' (UINT8, shape [2]) stores 300 as element 1 in int32_data", range.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new long[] { -3 }, "A tensor dimension is -3")]
    [InlineData(new long[] { 1L << 40, 1L << 40 }, "multiply to more elements than a 64-bit count can hold")]
    [InlineData(new long[] { 1L << 31, 1L << 31 }, "more bytes than a 64-bit size can count")]
    public void Negative_dims_and_counts_beyond_64_bits_are_refused(long[] dims, string expected)
    {
        var tensor = new TensorProto { Name = "w", DataType = (int)DataType.Double };
        tensor.Dims.AddRange(dims);

        var error = Assert.Throws<OnnxFormatException>(() => TensorStorage.Check(tensor));

        Assert.Contains("Tensor 'w'", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tensor_with_a_zero_dim_and_no_data_is_valid()
    {
        var tensor = new TensorProto { Name = "empty", DataType = (int)DataType.Float, Dims = { 0, 16 } };

        TensorStorage.Check(tensor);

        Assert.Empty(tensor.ToArray<float>());
    }

    [Theory]
    [InlineData(new long[] { 19 }, new long[] { 1 }, null)]
    [InlineData(new long[] { 20 }, new long[] { 1 }, "linear index 20 (entry 0), outside the shape")]
    [InlineData(new long[] { 3, 4 }, new long[] { 1, 2 }, null)]
    [InlineData(new long[] { 3, 5 }, new long[] { 1, 2 }, "coordinate 5 on axis 1 (value 0), outside the shape")]
    [InlineData(new long[] { 1, 2 }, new long[] { 2 }, "indices of shape [2]; ONNX requires [1] (linear indices) or [1, 2]")]
    public void Sparse_indices_must_lie_inside_the_dense_shape(long[] indices, long[] indexDims, string? expected)
    {
        var sparse = new SparseTensorProto
        {
            Values = TensorValues.Create<float>("s", [1], [5f]),
            Indices = TensorValues.Create<long>(string.Empty, indexDims, indices),
            Dims = { 4, 5 },
        };

        if (expected is null)
        {
            TensorStorage.CheckSparse(sparse);
            return;
        }

        var error = Assert.Throws<OnnxFormatException>(() => TensorStorage.CheckSparse(sparse));
        Assert.Contains($"Sparse tensor 's'", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
