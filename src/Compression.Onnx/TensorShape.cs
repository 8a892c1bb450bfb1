namespace Compression.Onnx;

/// <summary>Arithmetic on tensor shapes (the <c>dims</c> of a tensor).</summary>
public static class TensorShape
{
    /// <summary>The number of elements a tensor of this shape holds: the product of the dimensions, 1 for a scalar.</summary>
    /// <param name="dims">The dimensions; none may be negative.</param>
    /// <exception cref="ArgumentException">A dimension is negative, or the product does not fit in a <see cref="long"/>.</exception>
    public static long ElementCount(ReadOnlySpan<long> dims)
    {
        long count = 1;
        foreach (long dim in dims)
        {
            count = Multiply(count, dim, dims.Length, nameof(dims));
        }

        return count;
    }

    /// <summary>The number of elements a tensor of this shape holds: the product of the dimensions, 1 for a scalar.</summary>
    /// <param name="dims">The dimensions, e.g. <c>TensorProto.Dims</c>; none may be negative.</param>
    /// <exception cref="ArgumentException">A dimension is negative, or the product does not fit in a <see cref="long"/>.</exception>
    public static long ElementCount(IReadOnlyList<long> dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        long count = 1;
        for (int i = 0; i < dims.Count; i++)
        {
            count = Multiply(count, dims[i], dims.Count, nameof(dims));
        }

        return count;
    }

    /// <summary>The shape as ONNX tools print it, e.g. <c>[2, 3, 4]</c>.</summary>
    /// <param name="dims">The dimensions.</param>
    public static string Format(IReadOnlyList<long> dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        return "[" + string.Join(", ", dims) + "]";
    }

    private static long Multiply(long count, long dim, int rank, string parameterName)
    {
        if (dim < 0)
        {
            throw new ArgumentException($"A tensor dimension is {dim}; dimensions of a tensor with data cannot be negative.", parameterName);
        }

        try
        {
            return checked(count * dim);
        }
        catch (OverflowException ex)
        {
            throw new ArgumentException($"The {rank} dimensions multiply to more elements than a 64-bit count can hold.", parameterName, ex);
        }
    }
}
