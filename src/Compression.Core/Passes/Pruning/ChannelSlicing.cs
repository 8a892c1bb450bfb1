using System.Numerics.Tensors;

namespace Compression.Core.Passes.Pruning;

/// <summary>A float tensor being cut down: its dimensions and row-major elements.</summary>
internal sealed class SlicedTensor
{
    /// <summary>Wraps <paramref name="values"/> of shape <paramref name="dims"/>.</summary>
    public SlicedTensor(long[] dims, float[] values)
    {
        Dims = dims;
        Values = values;
    }

    /// <summary>The dimensions.</summary>
    public long[] Dims { get; private set; }

    /// <summary>The elements, row-major.</summary>
    public float[] Values { get; private set; }

    /// <summary>Keeps only indices <paramref name="kept"/> (ascending) along <paramref name="axis"/>.</summary>
    public void Keep(int axis, ReadOnlySpan<int> kept)
    {
        long outer = 1, inner = 1;
        for (int i = 0; i < axis; i++)
        {
            outer *= Dims[i];
        }

        for (int i = axis + 1; i < Dims.Length; i++)
        {
            inner *= Dims[i];
        }

        long length = Dims[axis];
        var result = new float[outer * kept.Length * inner];
        ReadOnlySpan<float> source = Values;
        Span<float> target = result;
        long at = 0;
        for (long o = 0; o < outer; o++)
        {
            long rowStart = o * length * inner;
            if (inner == 1)
            {
                // Columns of a matrix: one element each.
                ReadOnlySpan<float> row = source.Slice((int)rowStart, (int)length);
                for (int k = 0; k < kept.Length; k++)
                {
                    target[(int)(at + k)] = row[kept[k]];
                }

                at += kept.Length;
                continue;
            }

            foreach (int index in kept)
            {
                source.Slice((int)(rowStart + (index * inner)), (int)inner).CopyTo(target.Slice((int)at, (int)inner));
                at += inner;
            }
        }

        Dims = (long[])Dims.Clone();
        Dims[axis] = kept.Length;
        Values = result;
    }

    /// <summary>Replaces the elements and dimensions.</summary>
    public void Set(long[] dims, float[] values)
    {
        Dims = dims;
        Values = values;
    }

    /// <summary>The L2 norm of each index along <paramref name="axis"/> (over every other axis).</summary>
    public double[] Norms(int axis)
    {
        long outer = 1, inner = 1;
        for (int i = 0; i < axis; i++)
        {
            outer *= Dims[i];
        }

        for (int i = axis + 1; i < Dims.Length; i++)
        {
            inner *= Dims[i];
        }

        int length = (int)Dims[axis];
        var sums = new double[length];
        ReadOnlySpan<float> values = Values;
        for (long o = 0; o < outer; o++)
        {
            for (int c = 0; c < length; c++)
            {
                ReadOnlySpan<float> run = values.Slice((int)(((o * length) + c) * inner), (int)inner);
                sums[c] += inner == 1 ? (double)run[0] * run[0] : TensorPrimitives.Dot(run, run);
            }
        }

        for (int c = 0; c < length; c++)
        {
            sums[c] = Math.Sqrt(sums[c]);
        }

        return sums;
    }

    /// <summary>Expands channels to the indices they cover: channel <c>c</c> is <c>c * block .. c * block + block - 1</c>.</summary>
    public static int[] Expand(IReadOnlyList<int> channels, int block)
    {
        var indices = new int[channels.Count * block];
        for (int i = 0; i < channels.Count; i++)
        {
            for (int b = 0; b < block; b++)
            {
                indices[(i * block) + b] = (channels[i] * block) + b;
            }
        }

        return indices;
    }
}
