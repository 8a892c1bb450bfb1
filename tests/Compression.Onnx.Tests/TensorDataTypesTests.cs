using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Onnx.Tests;

public sealed class TensorElementTypeTests
{
    [Theory]
    [InlineData(typeof(float), DataType.Float, 4)]
    [InlineData(typeof(double), DataType.Double, 8)]
    [InlineData(typeof(Half), DataType.Float16, 2)]
    [InlineData(typeof(BFloat16), DataType.Bfloat16, 2)]
    [InlineData(typeof(sbyte), DataType.Int8, 1)]
    [InlineData(typeof(byte), DataType.Uint8, 1)]
    [InlineData(typeof(short), DataType.Int16, 2)]
    [InlineData(typeof(ushort), DataType.Uint16, 2)]
    [InlineData(typeof(int), DataType.Int32, 4)]
    [InlineData(typeof(uint), DataType.Uint32, 4)]
    [InlineData(typeof(long), DataType.Int64, 8)]
    [InlineData(typeof(ulong), DataType.Uint64, 8)]
    [InlineData(typeof(bool), DataType.Bool, 1)]
    public void Each_dotnet_type_maps_to_its_element_type_and_back(Type clrType, DataType dataType, int size)
    {
        Assert.Equal(dataType, TensorDataTypes.FromClrType(clrType));
        Assert.Equal(clrType, TensorDataTypes.ToClrType(dataType));
        Assert.Equal(size, TensorDataTypes.SizeInBytes(dataType));
        Assert.Equal(size * 8, TensorDataTypes.SizeInBits(dataType));
        Assert.Equal(System.Runtime.InteropServices.Marshal.SizeOf(clrType == typeof(bool) ? typeof(byte) : clrType), size);
    }

    [Fact]
    public void The_generic_mapping_agrees_with_the_runtime_one()
    {
        Assert.Equal(DataType.Float, TensorDataTypes.Of<float>());
        Assert.Equal(DataType.Bfloat16, TensorDataTypes.Of<BFloat16>());
        Assert.Equal(DataType.Bool, TensorDataTypes.Of<bool>());
        Assert.Equal(DataType.String, TensorDataTypes.FromClrType(typeof(string)));
    }

    [Fact]
    public void Types_that_are_not_element_types_are_refused()
    {
        Assert.Throws<NotSupportedException>(() => TensorDataTypes.Of<decimal>());
        Assert.Throws<NotSupportedException>(() => TensorDataTypes.Of<char>());
        Assert.Throws<NotSupportedException>(() => TensorDataTypes.Of<DayOfWeek>());
        Assert.Throws<NotSupportedException>(() => TensorValues.Create<decimal>("d", [1], [1m]));
        Assert.False(TensorDataTypes.TryFromClrType(typeof(object), out _));
    }

    [Theory]
    [InlineData(DataType.Complex64, 64)]
    [InlineData(DataType.Complex128, 128)]
    [InlineData(DataType.Float8E4M3Fn, 8)]
    [InlineData(DataType.Float8E5M2Fnuz, 8)]
    [InlineData(DataType.Int4, 4)]
    [InlineData(DataType.Uint4, 4)]
    [InlineData(DataType.Float4E2M1, 4)]
    public void Types_without_a_dotnet_type_still_have_a_width(DataType dataType, int bits)
    {
        Assert.Null(TensorDataTypes.ToClrType(dataType));
        Assert.Equal(bits, TensorDataTypes.SizeInBits(dataType));
    }

    [Fact]
    public void Strings_and_sub_byte_types_have_no_size_in_bytes()
    {
        Assert.Throws<ArgumentException>(() => TensorDataTypes.SizeInBytes(DataType.String));
        Assert.Throws<ArgumentException>(() => TensorDataTypes.SizeInBytes(DataType.Undefined));
        Assert.Throws<ArgumentException>(() => TensorDataTypes.SizeInBytes((DataType)99));
        var error = Assert.Throws<ArgumentException>(() => TensorDataTypes.SizeInBytes(DataType.Int4));
        Assert.Contains("SizeInBits", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Names_are_the_ones_of_the_onnx_specification()
    {
        Assert.Equal("FLOAT16", TensorDataTypes.Describe(DataType.Float16));
        Assert.Equal("FLOAT8E4M3FN", TensorDataTypes.Describe(DataType.Float8E4M3Fn));
        Assert.Contains("99", TensorDataTypes.Describe((DataType)99), StringComparison.Ordinal);
    }
}
