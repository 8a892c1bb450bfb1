using Compression.Core.Runtime;
using System.Globalization;
using System.Text;

namespace Compression.Core.Tests.Runtime;

/// <summary>Absolute and relative tolerance for floating-point elements: |actual - expected| &lt;= Absolute + Relative * |expected|.</summary>
internal readonly record struct Tolerance(double Relative, double Absolute)
{
    /// <summary>float and double: the tolerance the brief asks for (numpy allclose with rtol 1e-3, atol 1e-5).</summary>
    public static Tolerance Default { get; } = new(1e-3, 1e-5);

    /// <summary>The tolerance for elements of <paramref name="type"/>: the default, except bfloat16, which gets one
    /// bfloat16 ulp (8 significant bits, 2^-7 ≈ 7.8e-3 relative). The ONNX 1.12 reference converts float to bfloat16
    /// by truncating the low 16 bits, ONNX Runtime by rounding to nearest even, so results differ by up to one ulp
    /// (test_cast_FLOAT_to_BFLOAT16). float16 meets the default tolerance.</summary>
    public static Tolerance For(TensorElementType type) => type switch
    {
        TensorElementType.BFloat16 => new(1e-2, 1e-5),
        _ => Default,
    };
}

/// <summary>Compares tensors element by element: floats within a tolerance (NaN equals NaN, infinities must match),
/// integers, booleans and strings exactly.</summary>
internal static class TensorComparer
{
    /// <summary>Returns null when <paramref name="actual"/> matches <paramref name="expected"/>, else what differs.</summary>
    public static string? Compare(OnnxTensor expected, OnnxTensor actual, Tolerance? tolerance = null)
    {
        if (expected.ElementType != actual.ElementType)
        {
            return $"element type {TensorElementTypes.Name(actual.ElementType)}, expected {TensorElementTypes.Name(expected.ElementType)}";
        }

        if (!expected.Shape.SequenceEqual(actual.Shape))
        {
            return $"shape {OnnxTensor.FormatShape(actual.Shape)}, expected {OnnxTensor.FormatShape(expected.Shape)}";
        }

        Tolerance tol = tolerance ?? Tolerance.For(expected.ElementType);
        return expected.ElementType switch
        {
            TensorElementType.Float => Close(expected.As<float>().Span, actual.As<float>().Span, v => v, tol),
            TensorElementType.Double => Close(expected.As<double>().Span, actual.As<double>().Span, v => v, tol),
            TensorElementType.Float16 => Close(expected.As<Half>().Span, actual.As<Half>().Span, v => (double)v, tol),
            TensorElementType.BFloat16 => Close(expected.As<ushort>().Span, actual.As<ushort>().Span, BFloat16ToDouble, tol),
            TensorElementType.Int8 => Exact<sbyte>(expected, actual),
            TensorElementType.UInt8 => Exact<byte>(expected, actual),
            TensorElementType.Int16 => Exact<short>(expected, actual),
            TensorElementType.UInt16 => Exact<ushort>(expected, actual),
            TensorElementType.Int32 => Exact<int>(expected, actual),
            TensorElementType.UInt32 => Exact<uint>(expected, actual),
            TensorElementType.Int64 => Exact<long>(expected, actual),
            TensorElementType.UInt64 => Exact<ulong>(expected, actual),
            TensorElementType.Bool => Exact<bool>(expected, actual),
            TensorElementType.String => ExactStrings(((OnnxStringTensor)expected).Values, ((OnnxStringTensor)actual).Values),
            _ => $"cannot compare {TensorElementTypes.Name(expected.ElementType)} elements",
        };
    }

    public static double BFloat16ToDouble(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    private static string? Close<T>(ReadOnlySpan<T> expected, ReadOnlySpan<T> actual, Func<T, double> toDouble, Tolerance tol)
    {
        int bad = 0;
        int first = -1;
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = toDouble(expected[i]);
            double a = toDouble(actual[i]);
            bool ok = double.IsNaN(e) ? double.IsNaN(a)
                : double.IsInfinity(e) ? e == a
                : !double.IsNaN(a) && Math.Abs(a - e) <= tol.Absolute + tol.Relative * Math.Abs(e);
            if (!ok)
            {
                bad++;
                first = first < 0 ? i : first;
                worst = Math.Max(worst, double.IsFinite(a - e) ? Math.Abs(a - e) : double.PositiveInfinity);
            }
        }

        return bad == 0 ? null : string.Create(CultureInfo.InvariantCulture,
            $"{bad} of {expected.Length} elements differ beyond rtol {tol.Relative:G3}, atol {tol.Absolute:G3} " +
            $"(largest difference {worst:G6}; first at flat index {first}: got {toDouble(actual[first]):G9}, expected {toDouble(expected[first]):G9})");
    }

    private static string? Exact<T>(OnnxTensor expected, OnnxTensor actual) where T : unmanaged, IEquatable<T>
    {
        ReadOnlySpan<T> e = expected.As<T>().Span;
        ReadOnlySpan<T> a = actual.As<T>().Span;
        int bad = 0;
        int first = -1;
        for (int i = 0; i < e.Length; i++)
        {
            if (!e[i].Equals(a[i]))
            {
                bad++;
                first = first < 0 ? i : first;
            }
        }

        return bad == 0 ? null : $"{bad} of {e.Length} elements differ (first at flat index {first}: got {a[first]}, expected {e[first]})";
    }

    private static string? ExactStrings(IReadOnlyList<string> expected, IReadOnlyList<string> actual)
    {
        for (int i = 0; i < expected.Count; i++)
        {
            if (!string.Equals(expected[i], actual[i], StringComparison.Ordinal))
            {
                return $"string {i} is \"{Escape(actual[i])}\", expected \"{Escape(expected[i])}\"";
            }
        }

        return null;
    }

    private static string Escape(string s)
    {
        var text = new StringBuilder();
        foreach (char c in s)
        {
            text.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        }

        return text.ToString();
    }
}
