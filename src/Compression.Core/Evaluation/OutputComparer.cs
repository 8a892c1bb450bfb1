using Compression.Core.Runtime;

namespace Compression.Core.Evaluation;

/// <summary>Accumulates the differences between one output of the original and of the compressed model over samples.</summary>
internal sealed class OutputComparer
{
    private readonly string name;
    private long elements;
    private long mismatches;
    private double maxAbsError;
    private double sumAbsError;
    private double sumSquaredError;
    private double sumSquaredOriginal;
    private double? lowestCosine;
    private long[]? firstShape;
    private TensorElementType elementType;
    private long rowsCompared;
    private long rowsAgreeing;

    public OutputComparer(string name)
    {
        this.name = name;
    }

    /// <summary>Adds one sample's outputs.</summary>
    /// <exception cref="InvalidOperationException">The outputs differ in type or shape.</exception>
    public void Add(OnnxTensor original, OnnxTensor compressed)
    {
        if (original.ElementType != compressed.ElementType || !original.Shape.SequenceEqual(compressed.Shape))
        {
            throw new InvalidOperationException(
                $"output '{name}' is {original} in the original model but {compressed} in the compressed one");
        }

        firstShape ??= original.Shape.ToArray();
        elementType = original.ElementType;
        elements += original.ElementCount;

        double[]? a = AsDoubles(original);
        double[]? b = AsDoubles(compressed);
        if (a is null || b is null)
        {
            mismatches += CountMismatches(original, compressed);
            return;
        }

        double dot = 0, normA = 0, normB = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double difference = Math.Abs(a[i] - b[i]);
            if (double.IsNaN(a[i]) && double.IsNaN(b[i]))
            {
                continue;
            }

            if (difference != 0 || double.IsNaN(difference))
            {
                mismatches++;
            }

            maxAbsError = double.IsNaN(difference) ? double.PositiveInfinity : Math.Max(maxAbsError, difference);
            sumAbsError += double.IsNaN(difference) ? 0 : difference;
            sumSquaredError += double.IsNaN(difference) ? 0 : difference * difference;
            sumSquaredOriginal += a[i] * a[i];
            dot += a[i] * b[i];
            normA += a[i] * a[i];
            normB += b[i] * b[i];
        }

        double cosine = normA == 0 && normB == 0 ? 1 : normA == 0 || normB == 0 ? 0 : dot / (Math.Sqrt(normA) * Math.Sqrt(normB));
        lowestCosine = Math.Min(lowestCosine ?? 1, cosine);

        // Classifier-like outputs (a last axis of at least two scores): does the highest score stay in place, row by row?
        int classes = original.Shape.Length == 0 ? 0 : (int)Math.Min(original.Shape[^1], int.MaxValue);
        if (classes >= 2)
        {
            for (int row = 0; row + classes <= a.Length; row += classes)
            {
                rowsCompared++;
                rowsAgreeing += ArgMax(a.AsSpan(row, classes)) == ArgMax(b.AsSpan(row, classes)) ? 1 : 0;
            }
        }
    }

    /// <summary>The index of the largest value (the first of equal ones); NaN never wins.</summary>
    public static int ArgMax(ReadOnlySpan<double> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best] || double.IsNaN(values[best]))
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>The row-wise top-1 indices of a classifier-like output (float, last axis of at least 2), or null.</summary>
    public static long[]? Top1(OnnxTensor tensor)
    {
        double[]? values = AsDoubles(tensor);
        int classes = tensor.Shape.Length == 0 ? 0 : (int)Math.Min(tensor.Shape[^1], int.MaxValue);
        if (values is null || classes < 2)
        {
            return null;
        }

        var top = new long[values.Length / classes];
        for (int row = 0; row < top.Length; row++)
        {
            top[row] = ArgMax(values.AsSpan(row * classes, classes));
        }

        return top;
    }

    /// <summary>The comparison over every sample added.</summary>
    public OutputComparison Result() => new(
        name,
        TensorElementTypes.Name(elementType),
        firstShape ?? [],
        elements,
        maxAbsError,
        elements == 0 ? 0 : sumAbsError / elements,
        lowestCosine,
        mismatches,
        rowsCompared == 0 ? null : Math.Round((double)rowsAgreeing / rowsCompared, 6))
    {
        RelativeSquaredError = elements == 0 ? 0 : sumSquaredError / Math.Max(sumSquaredOriginal, double.Epsilon),
    };

    private static double[]? AsDoubles(OnnxTensor tensor) => tensor switch
    {
        OnnxTensor<float> t => Convert(t.Span, v => v),
        OnnxTensor<double> t => Convert(t.Span, v => v),
        OnnxTensor<Half> t => Convert(t.Span, v => (double)v),
        OnnxTensor<ushort> t when t.ElementType == TensorElementType.BFloat16 =>
            Convert(t.Span, v => (double)BitConverter.UInt32BitsToSingle((uint)v << 16)),
        _ => null,
    };

    private static double[] Convert<T>(ReadOnlySpan<T> values, Func<T, double> convert)
    {
        var result = new double[values.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = convert(values[i]);
        }

        return result;
    }

    private static long CountMismatches(OnnxTensor original, OnnxTensor compressed)
    {
        if (original is OnnxStringTensor s1 && compressed is OnnxStringTensor s2)
        {
            long count = 0;
            for (int i = 0; i < s1.Values.Count; i++)
            {
                count += string.Equals(s1.Values[i], s2.Values[i], StringComparison.Ordinal) ? 0 : 1;
            }

            return count;
        }

        return original switch
        {
            OnnxTensor<sbyte> t => Count(t.Span, compressed.As<sbyte>().Span),
            OnnxTensor<byte> t => Count(t.Span, compressed.As<byte>().Span),
            OnnxTensor<short> t => Count(t.Span, compressed.As<short>().Span),
            OnnxTensor<ushort> t => Count(t.Span, compressed.As<ushort>().Span),
            OnnxTensor<int> t => Count(t.Span, compressed.As<int>().Span),
            OnnxTensor<uint> t => Count(t.Span, compressed.As<uint>().Span),
            OnnxTensor<long> t => Count(t.Span, compressed.As<long>().Span),
            OnnxTensor<ulong> t => Count(t.Span, compressed.As<ulong>().Span),
            OnnxTensor<bool> t => Count(t.Span, compressed.As<bool>().Span),
            _ => 0,
        };
    }

    private static long Count<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b) where T : IEquatable<T>
    {
        long count = 0;
        for (int i = 0; i < a.Length; i++)
        {
            count += a[i].Equals(b[i]) ? 0 : 1;
        }

        return count;
    }
}
