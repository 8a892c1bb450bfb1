namespace Compression.Onnx.Tests;

public sealed class BFloat16Tests
{
    [Theory]
    [InlineData(1f, 0x3F80)]
    [InlineData(-2f, 0xC000)]
    [InlineData(3.140625f, 0x4049)]
    [InlineData(0.5f, 0x3F00)]
    [InlineData(0f, 0x0000)]
    [InlineData(-0f, 0x8000)]
    [InlineData(3.3895314e38f, 0x7F7F)]
    public void Exactly_representable_values_convert_exactly_both_ways(float value, int bits)
    {
        var bfloat = BFloat16.FromSingle(value);

        Assert.Equal((ushort)bits, bfloat.Bits);
        Assert.Equal(BitConverter.SingleToUInt32Bits(value), BitConverter.SingleToUInt32Bits(BFloat16.FromBits((ushort)bits)));
        Assert.Equal((ushort)bits, ((BFloat16)value).Bits);
    }

    [Fact]
    public void Every_non_nan_bit_pattern_survives_widening_and_narrowing()
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            var original = BFloat16.FromBits((ushort)bits);
            if (original.IsNaN)
            {
                continue;
            }

            float widened = original;
            Assert.Equal((uint)bits << 16, BitConverter.SingleToUInt32Bits(widened));
            Assert.Equal((ushort)bits, BFloat16.FromSingle(widened).Bits);
        }
    }

    [Theory]
    [InlineData(0x3F808000u, 0x3F80)] // 1 + 2^-8: halfway between 1 (even) and 1 + 2^-7, to even: down.
    [InlineData(0x3F818000u, 0x3F82)] // halfway between 0x3F81 (odd) and 0x3F82 (even): up.
    [InlineData(0x3F808001u, 0x3F81)] // just above halfway: up.
    [InlineData(0x3F807FFFu, 0x3F80)] // just below halfway: down.
    [InlineData(0xBF818000u, 0xBF82)] // negative halfway to even: away from zero here.
    [InlineData(0xBF808000u, 0xBF80)] // negative halfway to even: toward zero here.
    [InlineData(0x7F7F7FFFu, 0x7F7F)] // just below halfway past the largest finite value: stays finite.
    [InlineData(0x7F7F8000u, 0x7F80)] // halfway past the largest finite value: to even, which is infinity.
    [InlineData(0x7F7FFFFFu, 0x7F80)] // float.MaxValue: infinity.
    [InlineData(0x00008000u, 0x0000)] // half of the smallest subnormal: to even, zero.
    [InlineData(0x00018000u, 0x0002)] // 1.5 smallest subnormals: to even, two.
    [InlineData(0x00000001u, 0x0000)] // float.Epsilon: zero.
    public void Narrowing_rounds_to_nearest_ties_to_even(uint floatBits, int expectedBits)
    {
        Assert.Equal((ushort)expectedBits, BFloat16.FromSingle(BitConverter.UInt32BitsToSingle(floatBits)).Bits);
    }

    [Fact]
    public void Infinities_stay_infinities()
    {
        var positive = BFloat16.FromSingle(float.PositiveInfinity);
        var negative = BFloat16.FromSingle(float.NegativeInfinity);

        Assert.Equal(0x7F80, positive.Bits);
        Assert.Equal(0xFF80, negative.Bits);
        Assert.True(positive.IsInfinity);
        Assert.True(negative.IsInfinity);
        Assert.True(negative.IsNegative);
        Assert.Equal(float.PositiveInfinity, (float)BFloat16.PositiveInfinity);
        Assert.Equal(float.NegativeInfinity, (float)BFloat16.NegativeInfinity);
        Assert.False(BFloat16.MaxValue.IsInfinity);
    }

    [Theory]
    [InlineData(0x7FC00000u, 0x7FC0)] // the quiet NaN
    [InlineData(0xFFC00000u, 0xFFC0)] // a negative quiet NaN keeps its sign
    [InlineData(0x7FC12345u, 0x7FC1)] // payload bits that fit are kept
    [InlineData(0x7F800001u, 0x7FC0)] // payload only in bits that are cut: still NaN, not infinity
    [InlineData(0x7FFFFFFFu, 0x7FFF)] // rounding would carry into the sign; NaNs are not rounded
    public void Nan_stays_nan(uint floatBits, int expectedBits)
    {
        var bfloat = BFloat16.FromSingle(BitConverter.UInt32BitsToSingle(floatBits));

        Assert.True(bfloat.IsNaN);
        Assert.False(bfloat.IsInfinity);
        Assert.Equal((ushort)expectedBits, bfloat.Bits);
        Assert.True(float.IsNaN(bfloat));
    }

    [Fact]
    public void Equality_follows_float()
    {
        Assert.True(BFloat16.Zero == BFloat16.FromBits(0x8000));
        Assert.Equal(BFloat16.Zero.GetHashCode(), BFloat16.FromBits(0x8000).GetHashCode());
        Assert.False(BFloat16.NaN == BFloat16.NaN);
        Assert.True(BFloat16.NaN != BFloat16.NaN);
        Assert.True(BFloat16.NaN.Equals(BFloat16.NaN));
        Assert.True(BFloat16.One > BFloat16.Zero);
        Assert.True(BFloat16.MinValue < BFloat16.MaxValue);
        Assert.Equal(-1, BFloat16.NaN.CompareTo(BFloat16.NegativeInfinity));
        Assert.Equal("1.5", BFloat16.FromSingle(1.5f).ToString(null, System.Globalization.CultureInfo.InvariantCulture));
    }
}
