using Compression.Onnx.Protos;
using Google.Protobuf;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Onnx.Tests;

/// <summary>
/// The same values stored the two ways ONNX allows, <c>raw_data</c> and the typed repeated fields, read the same.
/// </summary>
public sealed class TensorStorageFormTests
{
    private static readonly long[] Dims = [2, 3];

    [Fact]
    public void Float_reads_the_same_from_float_data_and_raw_data()
    {
        float[] values = [0f, -1.5f, float.MaxValue, float.Epsilon, float.NegativeInfinity, float.NaN];
        var typed = Typed(DataType.Float);
        typed.FloatData.Add(values);

        AssertBothFormsRead(values, typed);
    }

    [Fact]
    public void Double_reads_the_same_from_double_data_and_raw_data()
    {
        double[] values = [0d, -1.5d, double.MaxValue, double.Epsilon, double.PositiveInfinity, Math.PI];
        var typed = Typed(DataType.Double);
        typed.DoubleData.Add(values);

        AssertBothFormsRead(values, typed);
    }

    [Fact]
    public void Float16_reads_the_same_from_int32_data_bits_and_raw_data()
    {
        Half[] values = [(Half)0, (Half)(-1.5f), Half.MaxValue, Half.Epsilon, Half.NegativeInfinity, (Half)65504f];
        var typed = Typed(DataType.Float16);
        foreach (var value in values)
        {
            typed.Int32Data.Add(BitConverter.HalfToUInt16Bits(value));
        }

        AssertBothFormsRead(values, typed);
    }

    [Fact]
    public void Bfloat16_reads_the_same_from_int32_data_bits_and_raw_data()
    {
        BFloat16[] values = [BFloat16.Zero, BFloat16.One, BFloat16.MaxValue, BFloat16.MinValue, BFloat16.NegativeInfinity, BFloat16.Epsilon];
        var typed = Typed(DataType.Bfloat16);
        foreach (var value in values)
        {
            typed.Int32Data.Add(value.Bits);
        }

        AssertBothFormsRead(values, typed);
    }

    [Fact]
    public void Int8_reads_the_same_from_int32_data_and_raw_data()
    {
        sbyte[] values = [0, 1, -1, sbyte.MinValue, sbyte.MaxValue, 42];
        var typed = Typed(DataType.Int8);
        foreach (var value in values)
        {
            typed.Int32Data.Add(value);
        }

        AssertBothFormsRead(values, typed);
    }

    [Fact]
    public void Uint8_reads_the_same_from_int32_data_and_raw_data()
    {
        byte[] values = [0, 1, 127, 128, byte.MaxValue, 42];
        var typed = Typed(DataType.Uint8);
        foreach (var value in values)
        {
            typed.Int32Data.Add(value);
        }

        AssertBothFormsRead(values, typed);
    }

    [Fact]
    public void Int16_reads_the_same_from_int32_data_and_raw_data()
    {
        short[] values = [0, 1, -1, short.MinValue, short.MaxValue, 1234];
        var typed = Typed(DataType.Int16);
        foreach (var value in values)
        {
            typed.Int32Data.Add(value);
        }

        AssertBothFormsRead(values, typed);
    }

    [Fact]
    public void Uint16_reads_the_same_from_int32_data_and_raw_data()
    {
        ushort[] values = [0, 1, 32767, 32768, ushort.MaxValue, 1234];
        var typed = Typed(DataType.Uint16);
        foreach (var value in values)
        {
            typed.Int32Data.Add(value);
        }

        AssertBothFormsRead(values, typed);
    }

    [Fact]
    public void Int32_reads_the_same_from_int32_data_and_raw_data()
    {
        int[] values = [0, 1, -1, int.MinValue, int.MaxValue, 123456789];
        var typed = Typed(DataType.Int32);
        typed.Int32Data.Add(values);

        AssertBothFormsRead(values, typed);
    }

    [Fact]
    public void Uint32_reads_the_same_from_uint64_data_and_raw_data()
    {
        uint[] values = [0, 1, int.MaxValue, 2147483648u, uint.MaxValue, 123456789];
        var typed = Typed(DataType.Uint32);
        foreach (var value in values)
        {
            typed.Uint64Data.Add(value);
        }

        AssertBothFormsRead(values, typed);
    }

    [Fact]
    public void Int64_reads_the_same_from_int64_data_and_raw_data()
    {
        long[] values = [0, 1, -1, long.MinValue, long.MaxValue, 1234567890123];
        var typed = Typed(DataType.Int64);
        typed.Int64Data.Add(values);

        AssertBothFormsRead(values, typed);
    }

    [Fact]
    public void Uint64_reads_the_same_from_uint64_data_and_raw_data()
    {
        ulong[] values = [0, 1, long.MaxValue, 9223372036854775808ul, ulong.MaxValue, 1234567890123];
        var typed = Typed(DataType.Uint64);
        typed.Uint64Data.Add(values);

        AssertBothFormsRead(values, typed);
    }

    [Fact]
    public void Bool_reads_the_same_from_int32_data_and_raw_data()
    {
        bool[] values = [true, false, false, true, true, false];
        var typed = Typed(DataType.Bool);
        foreach (var value in values)
        {
            typed.Int32Data.Add(value ? 1 : 0);
        }

        AssertBothFormsRead(values, typed);
    }

    [Fact]
    public void Strings_read_the_same_as_they_were_created()
    {
        string[] values = ["", "a", "héllo", "日本", "tab\there", "end"];

        var tensor = TensorValues.CreateStrings("s", Dims, values);

        Assert.Equal((int)DataType.String, tensor.DataType);
        Assert.False(tensor.HasRawData);
        Assert.Equal(values, tensor.ToStrings());
        Assert.Equal(values, (string[])tensor.ToArray());
    }

    [Fact]
    public void Raw_data_wins_when_a_tensor_has_both_forms()
    {
        var tensor = TensorValues.Create<int>("x", [2], [7, 8]);
        tensor.Int32Data.Add([1, 2]);

        Assert.Equal([7, 8], tensor.ToArray<int>());
    }

    [Fact]
    public void Narrow_types_accept_int32_data_entries_written_signed_or_unsigned()
    {
        var int8 = Typed(DataType.Int8, 2);
        int8.Int32Data.Add([255, -1]);
        var float16 = Typed(DataType.Float16, 2);
        float16.Int32Data.Add([unchecked((short)0xBC00), 0xBC00]);

        Assert.Equal([(sbyte)-1, (sbyte)-1], int8.ToArray<sbyte>());
        Assert.Equal([(Half)(-1f), (Half)(-1f)], float16.ToArray<Half>());
    }

    [Theory]
    [InlineData(DataType.Int8, 256)]
    [InlineData(DataType.Int8, -129)]
    [InlineData(DataType.Uint16, 65536)]
    [InlineData(DataType.Float16, -32769)]
    public void Int32_data_entries_too_wide_for_the_element_type_are_refused(DataType dataType, int entry)
    {
        var tensor = Typed(dataType, 1);
        tensor.Int32Data.Add(entry);

        var error = Assert.Throws<OnnxFormatException>(() => tensor.ToArray());
        Assert.Contains(entry.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
        Assert.Contains("int32_data", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Uint32_entries_above_32_bits_are_refused()
    {
        var tensor = Typed(DataType.Uint32, 1);
        tensor.Uint64Data.Add(1ul << 32);

        Assert.Throws<OnnxFormatException>(() => tensor.ToArray<uint>());
    }

    [Fact]
    public void Nonzero_booleans_read_as_true_in_both_forms()
    {
        var typed = Typed(DataType.Bool, 3);
        typed.Int32Data.Add([0, 2, -1]);
        var raw = Typed(DataType.Bool, 3);
        raw.RawData = ByteString.CopyFrom(0, 2, 255);

        var rawView = raw.View<bool>();

        Assert.Equal([false, true, true], typed.ToArray<bool>());
        Assert.False(rawView.IsZeroCopy);
        Assert.Equal([false, true, true], rawView.ToArray());
        Assert.Equal([(byte)0, 1, 1], System.Runtime.InteropServices.MemoryMarshal.AsBytes(rawView.Span).ToArray());
    }

    [Fact]
    public void Created_tensors_store_little_endian_raw_data()
    {
        var tensor = TensorValues.Create<int>("x", [2], [1, -2]);

        Assert.Equal("x", tensor.Name);
        Assert.Equal((int)DataType.Int32, tensor.DataType);
        Assert.Equal([2L], tensor.Dims);
        Assert.Equal(new byte[] { 1, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF }, tensor.RawData.ToByteArray());
    }

    [Fact]
    public void Scalars_and_empty_tensors_have_one_and_zero_elements()
    {
        var scalar = TensorValues.Create<double>("s", [], [2.5]);
        var empty = TensorValues.Create<float>("e", [3, 0], []);
        var emptyTyped = Typed(DataType.Int64, 0);
        emptyTyped.Dims.Clear();
        emptyTyped.Dims.Add([0, 4]);

        Assert.Equal([2.5], scalar.ToArray<double>());
        Assert.Equal(1, scalar.View<double>().ElementCount);
        Assert.Empty(empty.ToArray<float>());
        Assert.Equal(0, empty.View<float>().ElementCount);
        Assert.Empty(emptyTyped.ToArray<long>());
    }

    [Fact]
    public void Create_refuses_a_value_count_that_does_not_match_the_shape()
    {
        var error = Assert.Throws<ArgumentException>(() => TensorValues.Create<float>("x", [2, 2], [1f, 2f, 3f]));

        Assert.Contains("4 elements", error.Message, StringComparison.Ordinal);
        Assert.Contains("3 values", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_without_a_name_leaves_the_name_unset()
    {
        var tensor = TensorValues.Create<byte>(string.Empty, [1], [9]);

        Assert.False(tensor.HasName);
    }

    private static TensorProto Typed(DataType dataType, long elementCount = 6)
    {
        var tensor = new TensorProto { Name = "typed", DataType = (int)dataType };
        tensor.Dims.Add(elementCount == 6 ? Dims : [elementCount]);
        return tensor;
    }

    private static void AssertBothFormsRead<T>(T[] values, TensorProto typed)
        where T : unmanaged
    {
        var raw = TensorValues.Create<T>("raw", Dims, values);
        var rawView = raw.View<T>();
        var typedView = typed.View<T>();

        Assert.True(raw.HasRawData);
        Assert.False(typed.HasRawData);
        Assert.Equal((int)TensorDataTypes.Of<T>(), raw.DataType);
        Assert.Equal(Dims, raw.Dims);
        Assert.True(rawView.IsZeroCopy);
        Assert.False(typedView.IsZeroCopy);
        Assert.Equal(values, raw.ToArray<T>());
        Assert.Equal(values, typed.ToArray<T>());
        Assert.Equal(values, rawView.ToArray());
        Assert.Equal(values, typedView.ToArray());
        Assert.Equal(values, (T[])typed.ToArray());
        Assert.Equal(6, typedView.ElementCount);
        Assert.Equal(6, rawView.ElementCount);
    }
}
