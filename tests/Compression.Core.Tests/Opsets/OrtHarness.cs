using System.Globalization;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;
using Compression.Core.Runtime;

namespace Compression.Core.Tests.Opsets;

/// <summary>Runs models in ONNX Runtime and compares tensors the way numpy's allclose does.</summary>
internal static class OrtHarness
{
    /// <summary>Relative tolerance of float comparisons.</summary>
    public const double Rtol = 1e-3;

    /// <summary>Absolute tolerance of float comparisons.</summary>
    public const double Atol = 1e-4;

    /// <summary>Runs <paramref name="model"/> on the named inputs and returns all its outputs in order.</summary>
    public static OnnxTensor[] Run(ModelProto model, IReadOnlyList<string> names, IReadOnlyList<OnnxTensor> inputs, IReadOnlyDictionary<string, string>? config = null) =>
        Run(OnnxModelFile.ToBytes(model), names, inputs, config);

    /// <summary>Runs the serialized model on the named inputs and returns all its outputs in order.</summary>
    public static OnnxTensor[] Run(byte[] model, IReadOnlyList<string> names, IReadOnlyList<OnnxTensor> inputs, IReadOnlyDictionary<string, string>? config = null)
    {
        using var session = new OnnxSession(model, Ort.Options(config));
        return session.Run([.. names], [.. inputs], []);
    }

    /// <summary>Null when <paramref name="actual"/> matches <paramref name="expected"/>, else what differs.</summary>
    public static string? Difference(OnnxTensor expected, OnnxTensor actual, double rtol = Rtol, double atol = Atol)
    {
        if (expected.ElementType != actual.ElementType || !expected.Shape.SequenceEqual(actual.Shape))
        {
            return $"got {actual}, expected {expected}";
        }

        return expected.ElementType switch
        {
            TensorElementType.Float => Close(expected.As<float>().ToArray(), actual.As<float>().ToArray(), v => v, rtol, atol),
            TensorElementType.Double => Close(expected.As<double>().ToArray(), actual.As<double>().ToArray(), v => v, rtol, atol),
            TensorElementType.Float16 => Close(expected.As<Half>().ToArray(), actual.As<Half>().ToArray(), v => (double)v, rtol, atol),
            TensorElementType.BFloat16 => Close(expected.As<ushort>().ToArray(), actual.As<ushort>().ToArray(),
                v => BitConverter.Int32BitsToSingle(v << 16), 1e-2, atol),
            TensorElementType.Int8 => Exact(expected.As<sbyte>().ToArray(), actual.As<sbyte>().ToArray()),
            TensorElementType.UInt8 => Exact(expected.As<byte>().ToArray(), actual.As<byte>().ToArray()),
            TensorElementType.Int16 => Exact(expected.As<short>().ToArray(), actual.As<short>().ToArray()),
            TensorElementType.UInt16 => Exact(expected.As<ushort>().ToArray(), actual.As<ushort>().ToArray()),
            TensorElementType.Int32 => Exact(expected.As<int>().ToArray(), actual.As<int>().ToArray()),
            TensorElementType.UInt32 => Exact(expected.As<uint>().ToArray(), actual.As<uint>().ToArray()),
            TensorElementType.Int64 => Exact(expected.As<long>().ToArray(), actual.As<long>().ToArray()),
            TensorElementType.UInt64 => Exact(expected.As<ulong>().ToArray(), actual.As<ulong>().ToArray()),
            TensorElementType.Bool => Exact(expected.As<bool>().ToArray(), actual.As<bool>().ToArray()),
            TensorElementType.String => Exact(((OnnxStringTensor)expected).Values.ToArray(), ((OnnxStringTensor)actual).Values.ToArray()),
            _ => $"cannot compare {expected.ElementType} tensors",
        };
    }

    /// <summary>The first difference between two lists of outputs, or null when all match.</summary>
    public static string? Difference(IReadOnlyList<OnnxTensor> expected, IReadOnlyList<OnnxTensor> actual, double rtol = Rtol, double atol = Atol)
    {
        if (expected.Count != actual.Count)
        {
            return $"{actual.Count} outputs, expected {expected.Count}";
        }

        for (int k = 0; k < expected.Count; k++)
        {
            if (Difference(expected[k], actual[k], rtol, atol) is { } difference)
            {
                return $"output {k}: {difference}";
            }
        }

        return null;
    }

    /// <summary>A float tensor of the given shape with reproducible values in [-2, 2).</summary>
    public static OnnxTensor<float> RandomFloats(int seed, params long[] shape) => SeededValues.Tensor(seed, 2f, shape);

    /// <summary>Cosine similarity of two float tensors.</summary>
    public static double Cosine(OnnxTensor a, OnnxTensor b) => Ort.Cosine(a.As<float>().Span, b.As<float>().Span);

    private static string? Close<T>(T[] expected, T[] actual, Func<T, double> toDouble, double rtol, double atol)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            double e = toDouble(expected[i]);
            double a = toDouble(actual[i]);
            bool ok = double.IsNaN(e) ? double.IsNaN(a)
                : double.IsInfinity(e) ? e == a
                : Math.Abs(a - e) <= atol + (rtol * Math.Abs(e));
            if (!ok)
            {
                return string.Create(CultureInfo.InvariantCulture, $"element {i} is {a:G9}, expected {e:G9}");
            }
        }

        return null;
    }

    private static string? Exact<T>(T[] expected, T[] actual)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            if (!EqualityComparer<T>.Default.Equals(expected[i], actual[i]))
            {
                return $"element {i} is {actual[i]}, expected {expected[i]}";
            }
        }

        return null;
    }
}
