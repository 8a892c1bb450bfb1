namespace Compression.Core.Passes.Quantization;

/// <summary>Moves a weight's values between its own layout and one row per output channel.</summary>
internal static class ChannelLayout
{
    /// <summary>
    /// The values of a weight of shape <paramref name="dims"/> as <c>[channels, length]</c>: one row per index of
    /// <paramref name="axis"/>, or the whole weight as one row when <paramref name="axis"/> is -1.
    /// </summary>
    public static float[] ToChannelMajor(ReadOnlySpan<float> values, long[] dims, int axis, out int channels, out int length)
    {
        if (axis < 0)
        {
            channels = 1;
            length = values.Length;
            return values.ToArray();
        }

        (int outer, int count, int inner) = Split(dims, axis);
        channels = count;
        length = outer * inner;
        var result = new float[values.Length];
        if (inner == 1)
        {
            // The channels are the last axis (MatMul's [K, N]): a matrix transpose.
            Transpose(values, result, outer, count);
            return result;
        }

        for (int o = 0; o < outer; o++)
        {
            for (int c = 0; c < count; c++)
            {
                values.Slice(((o * count) + c) * inner, inner).CopyTo(result.AsSpan((c * length) + (o * inner), inner));
            }
        }

        return result;
    }

    /// <summary>The inverse of <see cref="ToChannelMajor"/>, for the levels.</summary>
    public static byte[] FromChannelMajor(byte[] channelMajor, long[] dims, int axis)
    {
        if (axis < 0)
        {
            return channelMajor;
        }

        (int outer, int count, int inner) = Split(dims, axis);
        int length = outer * inner;
        var result = new byte[channelMajor.Length];
        if (inner == 1)
        {
            Transpose<byte>(channelMajor, result, count, outer);
            return result;
        }

        for (int o = 0; o < outer; o++)
        {
            for (int c = 0; c < count; c++)
            {
                channelMajor.AsSpan((c * length) + (o * inner), inner).CopyTo(result.AsSpan(((o * count) + c) * inner, inner));
            }
        }

        return result;
    }

    /// <summary>A <c>[rows, columns]</c> matrix transposed.</summary>
    public static byte[] Transpose(byte[] values, int rows, int columns)
    {
        var result = new byte[values.Length];
        Transpose<byte>(values, result, rows, columns);
        return result;
    }

    /// <summary>Writes the transpose of the <c>[rows, columns]</c> matrix <paramref name="source"/> into <paramref name="target"/>, tile by tile.</summary>
    private static void Transpose<T>(ReadOnlySpan<T> source, Span<T> target, int rows, int columns)
    {
        const int Tile = 32;
        for (int r0 = 0; r0 < rows; r0 += Tile)
        {
            int r1 = Math.Min(rows, r0 + Tile);
            for (int c0 = 0; c0 < columns; c0 += Tile)
            {
                int c1 = Math.Min(columns, c0 + Tile);
                for (int r = r0; r < r1; r++)
                {
                    long from = (long)r * columns;
                    for (int c = c0; c < c1; c++)
                    {
                        target[(int)(((long)c * rows) + r)] = source[(int)(from + c)];
                    }
                }
            }
        }
    }

    /// <summary>Unsigned levels around <paramref name="midpoint"/> as signed levels around zero.</summary>
    public static sbyte[] Centered(byte[] levels, int midpoint)
    {
        var result = new sbyte[levels.Length];
        for (int i = 0; i < levels.Length; i++)
        {
            result[i] = (sbyte)(levels[i] - midpoint);
        }

        return result;
    }

    /// <summary>The sizes before, at and after <paramref name="axis"/>: a weight seen as <c>[outer, channels, inner]</c>.</summary>
    public static (int Outer, int Channels, int Inner) Split(ReadOnlySpan<long> dims, int axis)
    {
        long outer = 1;
        long inner = 1;
        for (int d = 0; d < axis; d++)
        {
            outer *= dims[d];
        }

        for (int d = axis + 1; d < dims.Length; d++)
        {
            inner *= dims[d];
        }

        return (checked((int)outer), checked((int)dims[axis]), checked((int)inner));
    }
}
