using Compression.Core.Passes.Quantization;
using Compression.Core.Tests.Support;

namespace Compression.Core.Tests.Quantization;

/// <summary>
/// The int8 arithmetic against a straightforward reference: per channel <c>scale = max|w| / 127</c>,
/// <c>q = clamp(round_half_even(w / scale), -127, 127)</c> (ONNX QuantizeLinear's float arithmetic), zero point 0.
/// </summary>
public sealed class Int8QuantizationTests
{
    public static TheoryData<long[], int> Layouts => new()
    {
        { [37, 29], 1 },        // MatMul weight [K, N]: channels innermost
        { [6, 4, 3, 3], 0 },    // Conv weight [M, C, kH, kW]: channels outermost
        { [3, 5, 7], 1 },       // a channel axis in the middle
        { [1, 1], 1 },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Scales_and_levels_equal_the_reference_loop(long[] dims, int axis)
    {
        float[] weights = SeededValues.Uniform(seed: dims.Length * 31 + axis, count: Count(dims), magnitude: 0.7f);

        (sbyte[] levels, float[] scales) = Quantize(weights, dims, axis);
        (sbyte[] expectedLevels, float[] expectedScales) = ReferenceQuantize(weights, dims, axis);

        Assert.Equal(expectedScales, scales);
        Assert.Equal(expectedLevels, levels);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Dequantized_weights_are_within_half_a_step(long[] dims, int axis)
    {
        float[] weights = SeededValues.Uniform(seed: 7 + axis, count: Count(dims), magnitude: 3f);
        (sbyte[] levels, float[] scales) = Quantize(weights, dims, axis);

        var restored = new float[weights.Length];
        Int8Quantization.DequantizePerChannel(levels, dims, axis, scales, restored);

        foreach ((int index, int channel) in Elements(dims, axis))
        {
            Assert.Equal(levels[index] * scales[channel], restored[index]);
            double error = Math.Abs((double)weights[index] - restored[index]);
            Assert.True(error <= scales[channel] * 0.5 * (1 + 1e-6), $"Element {index}: error {error} exceeds half the scale {scales[channel]}.");
        }
    }

    [Fact]
    public void Scale_is_the_largest_magnitude_of_each_channel_over_127()
    {
        // MatMul layout [K=3, N=2]: channel 0 holds {0.5, -2, 1}, channel 1 holds {-0.25, 0.1, 0.2}.
        float[] weights = [0.5f, -0.25f, -2f, 0.1f, 1f, 0.2f];

        (sbyte[] levels, float[] scales) = Quantize(weights, [3, 2], axis: 1);

        Assert.Equal([2f / 127, 0.25f / 127], scales);
        Assert.Equal(-127, levels[2]);
        Assert.Equal(-127, levels[1]);
    }

    [Fact]
    public void Halfway_values_round_to_even()
    {
        // A channel whose largest magnitude is 127 has scale 1, so each weight is its own level before rounding.
        float[] weights = [127f, 2.5f, 3.5f, -2.5f, -3.5f, 0.5f, 1.5f, -0.5f, 126.5f];

        (sbyte[] levels, float[] scales) = Quantize(weights, [weights.Length, 1], axis: 1);

        Assert.Equal(1f, scales[0]);
        Assert.Equal(new sbyte[] { 127, 2, 4, -2, -4, 0, 2, 0, 126 }, levels);
    }

    [Fact]
    public void Levels_stay_within_minus_127_and_127()
    {
        // The most negative weight of a channel maps to -127, never -128, so the range is symmetric.
        float[] weights = SeededValues.Uniform(seed: 3, count: 64 * 16, magnitude: 50f);
        for (int channel = 0; channel < 16; channel++)
        {
            weights[channel] = -100f;
        }

        (sbyte[] levels, _) = Quantize(weights, [64, 16], axis: 1);

        Assert.All(levels, level => Assert.InRange(level, (sbyte)-127, (sbyte)127));
        Assert.All(levels.Take(16), level => Assert.Equal(-127, level));
    }

    [Fact]
    public void An_all_zero_channel_gets_zero_levels_and_a_usable_scale()
    {
        // Conv layout [M=3, C=2, 2, 2]: output channel 1 is all zeros.
        float[] weights = SeededValues.Uniform(seed: 11, count: 24);
        Array.Clear(weights, 8, 8);

        (sbyte[] levels, float[] scales) = Quantize(weights, [3, 2, 2, 2], axis: 0);
        var restored = new float[weights.Length];
        Int8Quantization.DequantizePerChannel(levels, [3, 2, 2, 2], 0, scales, restored);

        Assert.All(levels.Skip(8).Take(8), level => Assert.Equal(0, level));
        Assert.All(restored.Skip(8).Take(8), value => Assert.Equal(0f, value));
        // DequantizeLinear takes any scale, but a zero scale would make requantizing divide by zero.
        Assert.True(float.IsFinite(scales[1]) && scales[1] > 0, $"The zero channel's scale is {scales[1]}.");
        (_, float[] expectedScales) = ReferenceQuantize(weights, [3, 2, 2, 2], 0);
        Assert.Equal(expectedScales[0], scales[0]);
        Assert.Equal(expectedScales[2], scales[2]);
    }

    [Fact]
    public void Spans_that_do_not_fit_the_shape_are_refused()
    {
        var levels = new sbyte[6];
        var scales = new float[2];

        Assert.Throws<ArgumentException>(() => Int8Quantization.QuantizePerChannel(new float[5], [3, 2], 1, levels, scales));
        Assert.Throws<ArgumentException>(() => Int8Quantization.QuantizePerChannel(new float[6], [3, 2], 0, levels, scales));
        Assert.Throws<ArgumentOutOfRangeException>(() => Int8Quantization.QuantizePerChannel(new float[6], [3, 2], 2, levels, scales));
    }

    private static (sbyte[] Levels, float[] Scales) Quantize(float[] weights, long[] dims, int axis)
    {
        var levels = new sbyte[weights.Length];
        var scales = new float[dims[axis]];
        Int8Quantization.QuantizePerChannel(weights, dims, axis, levels, scales);
        return (levels, scales);
    }

    /// <summary>The definition, one element at a time; an all-zero channel gets the implementation's scale
    /// (any positive value gives the same zero levels).</summary>
    private static (sbyte[] Levels, float[] Scales) ReferenceQuantize(float[] weights, long[] dims, int axis)
    {
        var maxMagnitude = new float[dims[axis]];
        foreach ((int index, int channel) in Elements(dims, axis))
        {
            maxMagnitude[channel] = Math.Max(maxMagnitude[channel], Math.Abs(weights[index]));
        }

        float[] scales = maxMagnitude.Select(m => m > 0 ? m / 127 : 1f).ToArray();
        var levels = new sbyte[weights.Length];
        foreach ((int index, int channel) in Elements(dims, axis))
        {
            float level = MathF.Round(weights[index] / scales[channel], MidpointRounding.ToEven);
            levels[index] = (sbyte)Math.Clamp(level, -127f, 127f);
        }

        return (levels, scales);
    }

    /// <summary>Every flat index of a row-major tensor with the index along <paramref name="axis"/>, from its coordinates.</summary>
    private static IEnumerable<(int Index, int Channel)> Elements(long[] dims, int axis)
    {
        int count = Count(dims);
        var coordinates = new long[dims.Length];
        for (int index = 0; index < count; index++)
        {
            yield return (index, (int)coordinates[axis]);
            for (int d = dims.Length - 1; d >= 0; d--)
            {
                if (++coordinates[d] < dims[d])
                {
                    break;
                }

                coordinates[d] = 0;
            }
        }
    }

    private static int Count(long[] dims) => (int)dims.Aggregate(1L, (a, b) => a * b);
}
