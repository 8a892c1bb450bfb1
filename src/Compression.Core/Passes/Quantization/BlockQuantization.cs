using System.Runtime.Intrinsics;
using System.Numerics.Tensors;

namespace Compression.Core.Passes.Quantization;

/// <summary>How a weight is quantized in blocks along its input axis.</summary>
/// <param name="Bits">Bits per value: 4 or 8.</param>
/// <param name="BlockSize">Values per block along the input axis (a power of two, 16 to 256).</param>
/// <param name="Symmetric">
/// True: the levels lie symmetrically around zero and need no zero point (ONNX Runtime's default zero point of
/// <c>2^(bits-1)</c> is the stored zero). False: each block maps its own [min, max] to the levels with a zero point.
/// </param>
public sealed record BlockFormat(int Bits, int BlockSize, bool Symmetric)
{
    /// <summary>The stored (unsigned) level that means zero for a symmetric block.</summary>
    public int Midpoint => 1 << (Bits - 1);

    /// <summary>The largest stored level.</summary>
    public int MaxLevel => (1 << Bits) - 1;

    /// <summary>Blocks per output channel for an input axis of <paramref name="k"/>; the last block is padded.</summary>
    public int BlocksPer(int k) => (k + BlockSize - 1) / BlockSize;

    /// <summary>Bytes of one packed block.</summary>
    public int BlobBytes => BlockSize * Bits / 8;
}

/// <summary>
/// A weight quantized in blocks, in the layout of ONNX Runtime's <c>com.microsoft.MatMulNBits</c>: for each of the
/// <c>N</c> output channels, <c>ceil(K / block)</c> blocks along the <c>K</c> inputs; the levels are unsigned and packed
/// low bits first, each block with one scale and (when asymmetric) one zero point.
/// </summary>
/// <param name="Format">Bits, block size and symmetry.</param>
/// <param name="N">Output channels.</param>
/// <param name="K">Inputs per channel.</param>
/// <param name="Levels">The unsigned level of every value, <c>[N, K]</c> (not padded), for dequantizing and packing.</param>
/// <param name="Scales">One scale per block, <c>[N, blocks]</c>.</param>
/// <param name="ZeroPoints">One unsigned zero point per block, <c>[N, blocks]</c>; all at the midpoint when symmetric.</param>
public sealed record BlockQuantizedWeight(BlockFormat Format, int N, int K, byte[] Levels, float[] Scales, byte[] ZeroPoints)
{
    /// <summary>
    /// The largest difference between a weight and its dequantized value, when the quantizer measured it while rounding
    /// (<see cref="BlockQuantization.Quantize"/>), or NaN.
    /// </summary>
    public double MaxError { get; init; } = double.NaN;

    /// <summary>The packed levels, <c>[N, blocks, blob]</c>, padding levels at the zero point.</summary>
    public byte[] PackLevels()
    {
        int blocks = Format.BlocksPer(K);
        int blob = Format.BlobBytes;
        var packed = new byte[(long)N * blocks * blob];
        for (int n = 0; n < N; n++)
        {
            for (int b = 0; b < blocks; b++)
            {
                byte zero = ZeroPoints[(n * blocks) + b];
                Span<byte> target = packed.AsSpan(((n * blocks) + b) * blob, blob);
                for (int i = 0; i < Format.BlockSize; i++)
                {
                    int k = (b * Format.BlockSize) + i;
                    byte level = k < K ? Levels[((long)n * K) + k] : zero;
                    if (Format.Bits == 8)
                    {
                        target[i] = level;
                    }
                    else
                    {
                        target[i / 2] |= (byte)(level << (4 * (i % 2)));
                    }
                }
            }
        }

        return packed;
    }

    /// <summary>The zero points packed as MatMulNBits reads them, <c>[N, ceil(blocks * bits / 8)]</c>.</summary>
    public byte[] PackZeroPoints()
    {
        int blocks = Format.BlocksPer(K);
        if (Format.Bits == 8)
        {
            return (byte[])ZeroPoints.Clone();
        }

        int perRow = (blocks + 1) / 2;
        var packed = new byte[N * perRow];
        for (int n = 0; n < N; n++)
        {
            for (int b = 0; b < blocks; b++)
            {
                packed[(n * perRow) + (b / 2)] |= (byte)(ZeroPoints[(n * blocks) + b] << (4 * (b % 2)));
            }
        }

        return packed;
    }

    /// <summary>The value the runtime computes for input <paramref name="k"/> of channel <paramref name="n"/>.</summary>
    public float Dequantize(int n, int k)
    {
        int block = (n * Format.BlocksPer(K)) + (k / Format.BlockSize);
        return (Levels[((long)n * K) + k] - ZeroPoints[block]) * Scales[block];
    }
}

/// <summary>
/// Block-wise round-to-nearest with a searched scale: for each block, the scale (and, when asymmetric, the range) that
/// gives the smallest squared error among a grid of clipping ratios. The ratio 1 is always among the candidates, so the
/// result is never worse than plain round-to-nearest from the block's range. Channels are quantized in parallel; every
/// element-wise step is exact IEEE arithmetic and errors are summed in order, so the result is the same on every machine.
/// </summary>
public static class BlockQuantization
{
    /// <summary>Clipping ratios tried per block: 1, then down in steps of 2% to 80% (4 bits) or 90% (8 bits).</summary>
    private static int ClipSteps(int bits) => bits >= 8 ? 5 : 10;

    /// <summary>Quantizes the weight <paramref name="weights"/>, laid out <c>[N, K]</c> (one row per output channel).</summary>
    /// <param name="weights">The float weights, <c>[N, K]</c> row-major.</param>
    /// <param name="n">Output channels.</param>
    /// <param name="k">Inputs per channel.</param>
    /// <param name="format">Bits, block size and symmetry.</param>
    public static BlockQuantizedWeight Quantize(float[] weights, int n, int k, BlockFormat format)
    {
        if (weights.Length != (long)n * k)
        {
            throw new ArgumentException($"{weights.Length} weights do not fill [{n}, {k}].", nameof(weights));
        }

        int blocks = format.BlocksPer(k);
        var levels = new byte[(long)n * k];
        var scales = new float[n * blocks];
        var zeros = new byte[n * blocks];
        var rowErrors = new double[n];
        Parallel.For(0, n, () => new float[Math.Min(format.BlockSize, k)], (row, _, scratch) =>
        {
            double rowError = 0;
            for (int b = 0; b < blocks; b++)
            {
                int start = b * format.BlockSize;
                int length = Math.Min(format.BlockSize, k - start);
                ReadOnlySpan<float> block = weights.AsSpan((int)(((long)row * k) + start), length);
                (float scale, byte zero) = ChooseScale(block, format);
                scales[(row * blocks) + b] = scale;
                zeros[(row * blocks) + b] = zero;
                Levels(block, scale, zero, format.MaxLevel, scratch, levels.AsSpan((int)(((long)row * k) + start), length));
                rowError = Math.Max(rowError, MaxError(block, scratch.AsSpan(0, length), scale, zero));
            }

            rowErrors[row] = rowError;
            return scratch;
        }, _ => { });

        return new BlockQuantizedWeight(format, n, k, levels, scales, zeros) { MaxError = n == 0 ? 0 : rowErrors.Max() };
    }

    /// <summary>
    /// The largest |value - (level - zero) * scale| of a block, from its levels as floats: the dequantized value in float, the
    /// difference in double, as a runtime's output is compared with the original.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static double MaxError(ReadOnlySpan<float> block, ReadOnlySpan<float> levels, float scale, byte zero)
    {
        var scales = Vector256.Create(scale);
        var zeros = Vector256.Create((float)zero);
        Vector256<double> largest = Vector256<double>.Zero;
        int i = 0;
        for (; i <= block.Length - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            Vector256<float> restored = (Vector256.Create(levels.Slice(i, Vector256<float>.Count)) - zeros) * scales;
            (Vector256<double> valueLow, Vector256<double> valueHigh) = Vector256.Widen(Vector256.Create(block.Slice(i, Vector256<float>.Count)));
            (Vector256<double> restoredLow, Vector256<double> restoredHigh) = Vector256.Widen(restored);
            largest = Vector256.Max(largest, Vector256.Max(Vector256.Abs(valueLow - restoredLow), Vector256.Abs(valueHigh - restoredHigh)));
        }

        double max = 0;
        for (int lane = 0; lane < Vector256<double>.Count; lane++)
        {
            max = Math.Max(max, largest[lane]);
        }

        for (; i < block.Length; i++)
        {
            float restored = (levels[i] - zero) * scale;
            max = Math.Max(max, Math.Abs((double)block[i] - restored));
        }

        return max;
    }

    /// <summary>The scale and zero point of one block: the candidate with the least squared error.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static (float Scale, byte Zero) ChooseScale(ReadOnlySpan<float> block, BlockFormat format)
    {
        float min = Math.Min(0f, TensorPrimitives.Min(block));
        float max = Math.Max(0f, TensorPrimitives.Max(block));
        if (max - min <= 0 || !float.IsFinite(max - min))
        {
            return (1f, (byte)format.Midpoint);
        }

        float bestScale = 1f;
        byte bestZero = (byte)format.Midpoint;
        double bestError = double.PositiveInfinity;
        int steps = ClipSteps(format.Bits);
        for (int step = 0; step < steps; step++)
        {
            float ratio = 1f - (0.02f * step);
            for (int variant = 0; variant < 2; variant++)
            {
                if (Candidate(min * ratio, max * ratio, format, variant == 1) is not { } candidate)
                {
                    continue;
                }

                (float scale, byte zero) = candidate;
                double error = SquaredError(block, scale, zero, format.MaxLevel);
                if (error < bestError)
                {
                    (bestError, bestScale, bestZero) = (error, scale, zero);
                }
            }
        }

        return (bestScale, bestZero);
    }

    /// <summary>The stored level of <paramref name="value"/>: round half to even, clamped to the levels.</summary>
    public static byte Level(float value, float scale, byte zero, int maxLevel) =>
        (byte)Math.Clamp(MathF.Round(value / scale, MidpointRounding.ToEven) + zero, 0, maxLevel);

    /// <summary>The levels of a block, as <see cref="Level"/> computes them, a vector at a time.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void Levels(ReadOnlySpan<float> block, float scale, byte zero, int maxLevel, Span<float> scratch, Span<byte> levels)
    {
        Span<float> t = scratch[..block.Length];
        RoundToLevels(block, scale, zero, maxLevel, t);
        for (int i = 0; i < t.Length; i++)
        {
            levels[i] = (byte)t[i];
        }
    }

    private static readonly Vector256<float> RoundingBias = Vector256.Create(12582912f);

    /// <summary>
    /// The sum of squared differences between a block and its dequantized levels, in one pass of 256-bit vectors: each
    /// difference is the float <see cref="Level"/> arithmetic, squared and summed in double, eight lanes then the lanes in
    /// order, so the sum is the same on every machine (with or without AVX).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static double SquaredError(ReadOnlySpan<float> block, float scale, byte zero, int maxLevel)
    {
        var scales = Vector256.Create(scale);
        var zeros = Vector256.Create((float)zero);
        var top = Vector256.Create((float)maxLevel);
        Vector256<double> lower = Vector256<double>.Zero;
        Vector256<double> upper = Vector256<double>.Zero;
        int i = 0;
        for (; i <= block.Length - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            Vector256<float> x = Vector256.Create(block.Slice(i, Vector256<float>.Count));
            // Adding and subtracting 1.5 * 2^23 rounds half to even, as MathF.Round does, for |x / scale| under 2^22 (the
            // candidates' scales keep it under 2^9).
            Vector256<float> level = Vector256.Min(Vector256.Max(((x / scales) + RoundingBias) - RoundingBias + zeros, Vector256<float>.Zero), top);
            Vector256<float> difference = x - ((level - zeros) * scales);
            (Vector256<double> low, Vector256<double> high) = Vector256.Widen(difference);
            lower += low * low;
            upper += high * high;
        }

        double sum = 0;
        for (int lane = 0; lane < Vector256<double>.Count; lane++)
        {
            sum += lower[lane];
            sum += upper[lane];
        }

        for (; i < block.Length; i++)
        {
            float level = Math.Clamp(MathF.Round(block[i] / scale, MidpointRounding.ToEven) + zero, 0, maxLevel);
            float difference = block[i] - ((level - zero) * scale);
            sum += (double)difference * difference;
        }

        return sum;
    }

    private static void RoundToLevels(ReadOnlySpan<float> block, float scale, byte zero, int maxLevel, Span<float> levels)
    {
        TensorPrimitives.Divide(block, scale, levels);
        TensorPrimitives.Round(levels, MidpointRounding.ToEven, levels);
        TensorPrimitives.Add(levels, zero, levels);
        TensorPrimitives.Max(levels, 0f, levels);
        TensorPrimitives.Min(levels, maxLevel, levels);
    }

    /// <summary>
    /// The scale and zero point that map [<paramref name="min"/>, <paramref name="max"/>] onto the levels. Symmetric
    /// blocks use the levels around the midpoint: the larger magnitude maps to the largest positive level, or, with
    /// <paramref name="negativeLevel"/>, to the one extra negative level (when the block's extreme is negative).
    /// Null when the variant does not apply.
    /// </summary>
    private static (float Scale, byte Zero)? Candidate(float min, float max, BlockFormat format, bool negativeLevel)
    {
        if (format.Symmetric)
        {
            float magnitude = Math.Max(-min, max);
            if (negativeLevel && -min <= max)
            {
                return null;
            }

            float scale = magnitude / (negativeLevel ? format.Midpoint : format.Midpoint - 1);
            return (scale > 0 ? scale : 1f, (byte)format.Midpoint);
        }

        if (negativeLevel)
        {
            return null;
        }

        float asymmetricScale = (max - min) / format.MaxLevel;
        if (asymmetricScale <= 0)
        {
            return (1f, 0);
        }

        float zero = MathF.Round(-min / asymmetricScale, MidpointRounding.ToEven);
        return (asymmetricScale, (byte)Math.Clamp(zero, 0, format.MaxLevel));
    }
}
