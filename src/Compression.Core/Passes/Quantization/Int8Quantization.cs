using System.Numerics.Tensors;

namespace Compression.Core.Passes.Quantization;

/// <summary>
/// Naive symmetric int8 quantization with one scale per channel, the floor the quantizer is measured against (tests and
/// the benchmark): <c>scale[c] = max|w[c]| / 127</c>,
/// <c>q = round_half_even(w / scale[c])</c> clamped to [-127, 127], zero point 0, so that
/// <c>DequantizeLinear(q, scale, 0)</c> gives back <c>w</c> within half a step.
/// </summary>
public static class Int8Quantization
{
    /// <summary>The largest magnitude an int8 value takes; -128 is left out so that the range is symmetric.</summary>
    public const int MaxLevel = 127;

    /// <summary>Quantizes <paramref name="weights"/> of shape <paramref name="dims"/> along <paramref name="axis"/>.</summary>
    /// <param name="weights">The float weights, row-major.</param>
    /// <param name="dims">Their shape.</param>
    /// <param name="axis">The channel axis: one scale per index along it.</param>
    /// <param name="quantized">Receives the int8 values; as long as <paramref name="weights"/>.</param>
    /// <param name="scales">Receives one scale per channel; <c>dims[axis]</c> long.</param>
    public static void QuantizePerChannel(ReadOnlySpan<float> weights, ReadOnlySpan<long> dims, int axis, Span<sbyte> quantized, Span<float> scales)
    {
        (int outer, int channels, int inner) = Split(dims, axis);
        if (weights.Length != (long)outer * channels * inner || quantized.Length != weights.Length || scales.Length != channels)
        {
            throw new ArgumentException("The spans do not match the shape.");
        }

        Span<float> maxMagnitude = scales;
        maxMagnitude.Clear();
        if (inner == 1)
        {
            // Channels are the innermost axis (MatMul [K, N]): fold row after row into the running maxima.
            for (int o = 0; o < outer; o++)
            {
                TensorPrimitives.MaxMagnitude(maxMagnitude, weights.Slice(o * channels, channels), maxMagnitude);
            }

            TensorPrimitives.Abs(maxMagnitude, maxMagnitude);
        }
        else
        {
            for (int o = 0; o < outer; o++)
            {
                for (int c = 0; c < channels; c++)
                {
                    ReadOnlySpan<float> block = weights.Slice(((o * channels) + c) * inner, inner);
                    maxMagnitude[c] = Math.Max(maxMagnitude[c], Math.Abs(TensorPrimitives.MaxMagnitude(block)));
                }
            }
        }

        for (int c = 0; c < channels; c++)
        {
            float scale = maxMagnitude[c] / MaxLevel;
            scales[c] = scale > 0 ? scale : 1f;
        }

        for (int o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                float scale = scales[c];
                int start = ((o * channels) + c) * inner;
                for (int i = start; i < start + inner; i++)
                {
                    quantized[i] = Quantize(weights[i], scale);
                }
            }
        }
    }

    /// <summary>Dequantizes values quantized by <see cref="QuantizePerChannel"/>.</summary>
    public static void DequantizePerChannel(ReadOnlySpan<sbyte> quantized, ReadOnlySpan<long> dims, int axis, ReadOnlySpan<float> scales, Span<float> weights)
    {
        (int outer, int channels, int inner) = Split(dims, axis);
        for (int o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                int start = ((o * channels) + c) * inner;
                for (int i = start; i < start + inner; i++)
                {
                    weights[i] = quantized[i] * scales[c];
                }
            }
        }
    }

    private static sbyte Quantize(float value, float scale)
    {
        float level = MathF.Round(value / scale, MidpointRounding.ToEven);
        return (sbyte)Math.Clamp(level, -MaxLevel, MaxLevel);
    }

    private static (int Outer, int Channels, int Inner) Split(ReadOnlySpan<long> dims, int axis)
    {
        if (axis < 0 || axis >= dims.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(axis), $"Axis {axis} is outside a shape of rank {dims.Length}.");
        }

        return ChannelLayout.Split(dims, axis);
    }
}
