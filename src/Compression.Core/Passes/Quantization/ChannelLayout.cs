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
        // Every element is written below.
        float[] result = GC.AllocateUninitializedArray<float>(values.Length);
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
        byte[] result = GC.AllocateUninitializedArray<byte>(channelMajor.Length);
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

    /// <summary>
    /// Writes the transpose of the <c>[rows, columns]</c> matrix <paramref name="source"/> into <paramref name="target"/>,
    /// tile by tile, bands of tiles in parallel for large matrices.
    /// </summary>
    // Fully optimized from the first call: a compression calls it a few times on large matrices, too few to tier up.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Transpose<T>(ReadOnlySpan<T> source, Span<T> target, int rows, int columns) where T : unmanaged
    {
        const int Tile = 32;
        if ((long)rows * columns > source.Length || (long)rows * columns > target.Length)
        {
            throw new ArgumentException($"[{rows}, {columns}] does not fit the spans.", nameof(rows));
        }

        fixed (T* from = source)
        fixed (T* to = target)
        {
            nint sourceAddress = (nint)from;
            nint targetAddress = (nint)to;
            int bands = (rows + Tile - 1) / Tile;
            void Band(int band)
            {
                T* s = (T*)sourceAddress;
                T* t = (T*)targetAddress;
                int r0 = band * Tile;
                int r1 = Math.Min(rows, r0 + Tile);
                for (int c0 = 0; c0 < columns; c0 += Tile)
                {
                    int c1 = Math.Min(columns, c0 + Tile);
                    for (int r = r0; r < r1; r++)
                    {
                        T* row = s + ((long)r * columns);
                        for (int c = c0; c < c1; c++)
                        {
                            t[((long)c * rows) + r] = row[c];
                        }
                    }
                }
            }

            if ((long)rows * columns < 1 << 20)
            {
                for (int band = 0; band < bands; band++)
                {
                    Band(band);
                }
            }
            else
            {
                Parallel.For(0, bands, Band);
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
