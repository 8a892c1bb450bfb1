using Compression.Core.Runtime;

namespace Compression.Core.Evaluation;

/// <summary>
/// Makes sample inputs from a model's input signature when the user gives none: symbolic and unknown dimensions
/// become small sizes (1 on the first axis, a batch; 8 elsewhere), and values come from a seeded generator, so that
/// the same model always gets the same inputs.
/// </summary>
public static class InputSynthesizer
{
    /// <summary>The size given to a symbolic or unknown first dimension.</summary>
    public const long BatchSize = 1;

    /// <summary>The size given to other symbolic or unknown dimensions.</summary>
    public const long OtherSize = 8;

    /// <summary>The most elements one synthesized input may have (256 MiB of floats).</summary>
    public const long MaxElements = 1L << 26;

    /// <summary>Resolves each input's shape: fixed sizes stay, symbolic names get one size each.</summary>
    public static IReadOnlyList<long[]> ResolveShapes(IReadOnlyList<OnnxValueInfo> inputs)
    {
        var symbols = new Dictionary<string, long>(StringComparer.Ordinal);
        var shapes = new List<long[]>(inputs.Count);
        foreach (OnnxValueInfo input in inputs)
        {
            var shape = new long[input.Dimensions.Count];
            for (int axis = 0; axis < shape.Length; axis++)
            {
                long size = input.Dimensions[axis];
                if (size >= 0)
                {
                    shape[axis] = size;
                    continue;
                }

                long chosen = axis == 0 ? BatchSize : OtherSize;
                string? symbol = input.SymbolicDimensions[axis];
                if (symbol is not null)
                {
                    chosen = symbols.TryGetValue(symbol, out long known) ? known : symbols[symbol] = chosen;
                }

                shape[axis] = chosen;
            }

            shapes.Add(shape);
        }

        return shapes;
    }

    /// <summary>Creates one input set; <paramref name="sample"/> selects the seed.</summary>
    /// <exception cref="NotSupportedException">An input is not a dense tensor of a type that can be synthesized.</exception>
    public static OnnxTensor[] Create(IReadOnlyList<OnnxValueInfo> inputs, IReadOnlyList<long[]> shapes, int sample)
    {
        var random = new Random(unchecked((sample * 7919) + 17));
        var tensors = new OnnxTensor[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
        {
            OnnxValueInfo input = inputs[i];
            if (input.Kind != OnnxValueKind.Tensor)
            {
                throw new NotSupportedException($"input '{input.Name}' is a {input.Kind.ToString().ToLowerInvariant()}, not a tensor");
            }

            long[] shape = shapes[i];
            long elements = TensorShapeCount(shape);
            if (elements > MaxElements)
            {
                // A fixed dimension of 2^31 (or dims whose product overflows) fits no array, nor a sensible validation run.
                throw new NotSupportedException(
                    $"input '{input.Name}' has the fixed shape [{string.Join(", ", shape)}], {(elements == long.MaxValue ? "more than 2^63" : elements.ToString(System.Globalization.CultureInfo.InvariantCulture))} " +
                    $"elements, more than the {MaxElements} a synthesized input may have");
            }

            int count = (int)elements;
            tensors[i] = input.ElementType switch
            {
                TensorElementType.Float => Fill(count, shape, () => (float)((random.NextDouble() * 2) - 1)),
                TensorElementType.Double => Fill(count, shape, () => (random.NextDouble() * 2) - 1),
                TensorElementType.Float16 => Fill(count, shape, () => (Half)((random.NextDouble() * 2) - 1)),
                TensorElementType.BFloat16 => new OnnxTensor<ushort>(FillArray(count, () => BFloat16Bits((float)((random.NextDouble() * 2) - 1))), shape, TensorElementType.BFloat16),
                // Integer inputs are often indices, lengths or masks: 0 and 1 are valid for all of them.
                TensorElementType.Int8 => Fill(count, shape, () => (sbyte)random.Next(2)),
                TensorElementType.UInt8 => Fill(count, shape, () => (byte)random.Next(2)),
                TensorElementType.Int16 => Fill(count, shape, () => (short)random.Next(2)),
                TensorElementType.UInt16 => Fill(count, shape, () => (ushort)random.Next(2)),
                TensorElementType.Int32 => Fill(count, shape, () => random.Next(2)),
                TensorElementType.UInt32 => Fill(count, shape, () => (uint)random.Next(2)),
                TensorElementType.Int64 => Fill(count, shape, () => (long)random.Next(2)),
                TensorElementType.UInt64 => Fill(count, shape, () => (ulong)random.Next(2)),
                TensorElementType.Bool => Fill(count, shape, () => random.Next(2) == 1),
                TensorElementType.String => new OnnxStringTensor(FillArray(count, () => "a"), shape),
                _ => throw new NotSupportedException($"input '{input.Name}' has {TensorElementTypes.Name(input.ElementType)} elements, which cannot be synthesized"),
            };
        }

        return tensors;
    }

    /// <summary>The count of elements of the shape, or <see cref="long.MaxValue"/> when it does not fit 64 bits.</summary>
    private static long TensorShapeCount(long[] shape)
    {
        long count = 1;
        foreach (long size in shape)
        {
            if (size != 0 && count > long.MaxValue / size)
            {
                return long.MaxValue;
            }

            count *= size;
        }

        return count;
    }

    private static OnnxTensor<T> Fill<T>(int count, long[] shape, Func<T> next) where T : unmanaged =>
        new(FillArray(count, next), shape);

    private static T[] FillArray<T>(int count, Func<T> next)
    {
        var values = new T[count];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = next();
        }

        return values;
    }

    private static ushort BFloat16Bits(float value) => (ushort)(BitConverter.SingleToUInt32Bits(value) >> 16);
}
