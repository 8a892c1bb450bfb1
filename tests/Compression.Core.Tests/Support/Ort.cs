using Compression.Core.Runtime;

namespace Compression.Core.Tests.Support;

/// <summary>Runs models in ONNX Runtime (the library the build copies beside the tests) and compares outputs.</summary>
internal static class Ort
{
    /// <summary>Session options: one thread, so that repeated runs give the same figures, plus <paramref name="configEntries"/>.</summary>
    public static OnnxSessionOptions Options(IReadOnlyDictionary<string, string>? configEntries = null, int intraOpThreads = 1)
    {
        var options = new OnnxSessionOptions { IntraOpThreads = intraOpThreads };
        foreach (KeyValuePair<string, string> entry in configEntries ?? new Dictionary<string, string>())
        {
            options.ConfigEntries[entry.Key] = entry.Value;
        }

        return options;
    }

    /// <summary>Runs a model held in memory once and returns every output by name.</summary>
    public static IReadOnlyDictionary<string, OnnxTensor> Run(byte[] model, IReadOnlyDictionary<string, OnnxTensor> inputs, IReadOnlyDictionary<string, string>? configEntries = null)
    {
        using var session = new OnnxSession(model, Options(configEntries));
        return session.Run(inputs);
    }

    /// <summary>The cosine of the angle between two vectors (1: same direction).</summary>
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double dot = 0, normA = 0, normB = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            normA += (double)a[i] * a[i];
            normB += (double)b[i] * b[i];
        }

        return normA == 0 && normB == 0 ? 1 : dot / (Math.Sqrt(normA) * Math.Sqrt(normB));
    }

    /// <summary>The largest absolute difference of two equally long vectors.</summary>
    public static double MaxAbsDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            max = Math.Max(max, Math.Abs((double)a[i] - b[i]));
        }

        return max;
    }

    /// <summary>A float tensor of seeded uniform values in [-1, 1).</summary>
    public static OnnxTensor<float> RandomFloats(int seed, params long[] shape) => SeededValues.Tensor(seed, 1f, shape);
}
