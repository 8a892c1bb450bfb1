namespace Compression.Onnx.Tests;

public sealed class TensorShapeTests
{
    [Theory]
    [InlineData(new long[0], 1)]
    [InlineData(new long[] { 7 }, 7)]
    [InlineData(new long[] { 2, 3, 4 }, 24)]
    [InlineData(new long[] { 2, 0, 4 }, 0)]
    [InlineData(new long[] { 0, long.MaxValue, long.MaxValue }, 0)]
    [InlineData(new long[] { 1L << 31, 1L << 31 }, 1L << 62)]
    public void The_element_count_is_the_product_of_the_dimensions(long[] dims, long expected)
    {
        Assert.Equal(expected, TensorShape.ElementCount(dims));
        Assert.Equal(expected, TensorShape.ElementCount((IReadOnlyList<long>)dims));
    }

    [Fact]
    public void Negative_dimensions_are_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => TensorShape.ElementCount([2, -3]));

        Assert.Contains("-3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Counts_past_64_bits_are_refused()
    {
        Assert.Throws<ArgumentException>(() => TensorShape.ElementCount([1L << 32, 1L << 32]));
    }

    [Fact]
    public void Shapes_print_as_onnx_tools_print_them()
    {
        Assert.Equal("[2, 3, 4]", TensorShape.Format([2, 3, 4]));
        Assert.Equal("[]", TensorShape.Format([]));
    }
}
